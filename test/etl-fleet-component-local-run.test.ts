// The ASL the EtlFleet component hands to aws.sfn.StateMachine (under Pulumi mocks) is executed by the
// local runner, its Task ARNs bound to the handlers the component bundles, S3 on s3rver and the ledger
// on dynalite: what AWS would run gives the ground-truth word counts and a SUCCEEDED ledger row.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../etl/contracts.js";
import { type LocalDynamoDB, startLocalDynamoDB } from "../local/dynamodb-server.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { installMocks, valueOf as resolved } from "./support/pulumi-mocks.js";

await installMocks();
const { EtlFleet } = await import("../components/etl-fleet.js");
const { wordcount, DEFAULT_INPUT_PREFIX, OUTPUT_PREFIX } = await import("../etl/wordcount/job.js");
const { demoDocument } = await import("../etl/wordcount/corpus.js");
const { countWords } = await import("../etl/wordcount/tokenize.js");
const { finalizerHandler, plannerHandler, workerHandler } = await import("../etl/handlers.js");
const { ensureLedgerTable, getRun } = await import("../etl/ledger.js");
const { runLocalExecution } = await import("../local/step-functions/runner.js");
const { dynamoDBIntegrations } = await import("../local/step-functions/service-integrations.js");

const fleet = new EtlFleet("wordcount", {
  ...EtlFleet.fromJob(wordcount, {
    planner: { reads: [DEFAULT_INPUT_PREFIX] },
    worker: { reads: [DEFAULT_INPUT_PREFIX] },
    finalizer: { writes: [OUTPUT_PREFIX] },
  }),
});

describe("the EtlFleet's state machine, run locally", () => {
  let dir: string;
  let s3: LocalS3;
  let ddb: LocalDynamoDB;
  let bucket: string;
  let table: string;
  beforeAll(async () => {
    bucket = await resolved(fleet.bucketName);
    table = await resolved(fleet.ledgerTableName);
    dir = await mkdtemp(join(tmpdir(), "obs-fleet-local-"));
    // The bucket and table carry the names the component gave them (mock physical names).
    s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0, bucket });
    ddb = await startLocalDynamoDB({ directory: join(dir, "ddb"), port: 0 });
    await ensureLedgerTable(ddb.client, table);
  });
  afterAll(async () => {
    await s3?.close();
    await ddb?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("counts the words of every input object, as the deployed machine would", async () => {
    const texts = Array.from({ length: 25 }, (_, n) => demoDocument(n + 300));
    for (const [n, text] of texts.entries()) {
      await s3.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${DEFAULT_INPUT_PREFIX}doc-${n}.txt`, Body: text }),
      );
    }
    const truth: Record<string, number> = {};
    for (const text of texts) countWords(text, truth);

    const definition = JSON.parse(await resolved(fleet.definition));
    const arn = async (f: { arn: import("@pulumi/pulumi").Output<string> }) => resolved(f.arn);
    const client = () => s3.client;
    const stateMachineArn = await resolved(fleet.stateMachineArn);
    const result = await runLocalExecution({
      definition,
      input: { run_id: "fleet-local-1", input: {} },
      stateMachineArn,
      executionName: "fleet-local-1",
      resources: {
        [await arn(fleet.planner)]: plannerHandler(wordcount, client) as (i: unknown) => Promise<unknown>,
        [await arn(fleet.worker)]: workerHandler(wordcount, client) as (i: unknown) => Promise<unknown>,
        [await arn(fleet.finalizer)]: finalizerHandler(wordcount, client) as (i: unknown) => Promise<unknown>,
        ...dynamoDBIntegrations(ddb.client),
      },
      s3: s3.client,
    });
    expect(result.status).toBe("SUCCEEDED");
    const summary = (result as { output: RunSummary }).output;
    expect(summary).toMatchObject({ total_items: 25, succeeded_items: 25, failed_items: 0 });

    const counts = await s3.client.send(
      new GetObjectCommand({ Bucket: bucket, Key: `${OUTPUT_PREFIX}fleet-local-1/counts.json` }),
    );
    expect(JSON.parse(await counts.Body!.transformToString())).toEqual(truth);
    // Every object the run wrote is under a prefix the component's IAM grants a writer of it:
    // manifests (planner), Map results (state machine), outputs (finalizer); inputs were ours.
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const written = (listed.Contents ?? [])
      .map((o) => o.Key!)
      .filter((k) => !k.startsWith(DEFAULT_INPUT_PREFIX));
    expect(written.length).toBeGreaterThan(3);
    for (const key of written) {
      expect(key).toMatch(
        /^(etl\/manifests\/wordcount\/|etl\/results\/wordcount\/|etl\/outputs\/wordcount\/)/,
      );
    }
    expect(written.some((k) => k.startsWith("etl/manifests/wordcount/fleet-local-1/"))).toBe(true);
    expect(written.some((k) => /^etl\/results\/wordcount\/fleet-local-1\/.+\/manifest\.json$/.test(k))).toBe(
      true,
    );
    const ledger = await getRun(ddb.client, table, "wordcount", "fleet-local-1");
    expect(ledger).toMatchObject({
      status: "SUCCEEDED",
      total_items: 25,
      succeeded_items: 25,
      failed_items: 0,
    });
    expect(ledger!.results_location).toBe(`s3://${bucket}/etl/results/wordcount/fleet-local-1/`);
  });
});
