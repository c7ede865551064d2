// The ASL the EtlFleet component hands to aws.sfn.StateMachine (under Pulumi mocks) is executed by the
// local runner, its Task ARNs bound to the handlers the component bundles, S3 on s3rver and the ledger
// on dynalite: what AWS would run gives the ground-truth word counts and a SUCCEEDED ledger row. Every
// AWS call each principal makes on the way (state machine, planner, worker, finalizer) is recorded and
// checked against the IAM policy the component wrote for that principal: enough, and no more is used.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSummary, WorkerEvent } from "../etl/contracts.js";
import { type LocalDynamoDB, startLocalDynamoDB } from "../local/dynamodb-server.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import {
  allows,
  type IamRequest,
  type IamStatement,
  recordingDynamoDB,
  recordingS3,
} from "./support/iam-simulator.js";
import { installMocks, type MockedResource, valueOf as resolved } from "./support/pulumi-mocks.js";

const resources: MockedResource[] = await installMocks();
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

async function policyOf(name: string): Promise<{ Statement: IamStatement[] }> {
  const found = resources.find((r) => r.name === name);
  if (!found) throw new Error(`no ${name}`);
  return JSON.parse(await resolved(found.inputs.policy as string));
}

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

  type Principal = "stateMachine" | "planner" | "worker" | "finalizer";
  const texts = Array.from({ length: 25 }, (_, n) => demoDocument(n + 300));

  /** One execution of the component's ASL; `failing` object keys make the worker throw (not transient). */
  async function runFleet(runId: string, failing: Set<string> = new Set()) {
    const calls: Record<Principal, IamRequest[]> = {
      stateMachine: [],
      planner: [],
      worker: [],
      finalizer: [],
    };
    const tableArn = await resolved(fleet.ledger.arn);
    const clientFor = (role: Principal) => {
      const client = recordingS3(s3.endpoint, calls[role]);
      return () => client;
    };
    const invoked = (arn: string, handler: (input: never) => Promise<unknown>) => async (input: unknown) => {
      calls.stateMachine.push({ action: "lambda:InvokeFunction", resource: arn, context: {} });
      return handler(input as never);
    };
    const work = workerHandler(wordcount, clientFor("worker"));
    const worker = async (event: WorkerEvent) => {
      const bad = event.Items.find((item) => failing.has(String(item.key)));
      if (bad) throw new Error(`injected failure on ${bad.key}`);
      return work(event as never);
    };
    const plannerArn = await resolved(fleet.planner.arn);
    const workerArn = await resolved(fleet.worker.arn);
    const finalizerArn = await resolved(fleet.finalizer.arn);
    const result = await runLocalExecution({
      definition: JSON.parse(await resolved(fleet.definition)),
      input: { run_id: runId, input: {} },
      stateMachineArn: await resolved(fleet.stateMachineArn),
      // A re-run of the same run id is a new execution.
      executionName: `${runId}-${randomUUID().slice(0, 8)}`,
      resources: {
        [plannerArn]: invoked(plannerArn, plannerHandler(wordcount, clientFor("planner"))),
        [workerArn]: invoked(workerArn, worker),
        [finalizerArn]: invoked(finalizerArn, finalizerHandler(wordcount, clientFor("finalizer"))),
        ...dynamoDBIntegrations(recordingDynamoDB(ddb.endpoint, () => tableArn, calls.stateMachine)),
      },
      // ItemReader and ResultWriter act as the state machine's role.
      s3: clientFor("stateMachine")(),
    });
    return { result, calls };
  }

  async function policies(): Promise<Record<Principal, { Statement: IamStatement[] }>> {
    return {
      stateMachine: await policyOf("wordcount-policy"),
      planner: await policyOf("wordcount-planner-policy"),
      worker: await policyOf("wordcount-worker-policy"),
      finalizer: await policyOf("wordcount-finalizer-policy"),
    };
  }

  /** Calls of each principal its policy does not allow (expected: none). */
  async function denied(calls: Record<Principal, IamRequest[]>) {
    const allowed = await policies();
    return Object.fromEntries(
      (Object.entries(calls) as [Principal, IamRequest[]][]).map(([role, requests]) => [
        role,
        requests.filter((r) => !allows(allowed[role], r)),
      ]),
    );
  }
  const NONE = { stateMachine: [], planner: [], worker: [], finalizer: [] };

  it("counts the words of every input object, calling only what each role's policy allows", async () => {
    for (const [n, text] of texts.entries()) {
      await s3.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${DEFAULT_INPUT_PREFIX}doc-${n}.txt`, Body: text }),
      );
    }
    const truth: Record<string, number> = {};
    for (const text of texts) countWords(text, truth);

    const { result, calls } = await runFleet("fleet-local-1");
    expect(result.status).toBe("SUCCEEDED");
    const summary = (result as { output: RunSummary }).output;
    expect(summary).toMatchObject({ total_items: 25, succeeded_items: 25, failed_items: 0 });

    const counts = await s3.client.send(
      new GetObjectCommand({ Bucket: bucket, Key: `${OUTPUT_PREFIX}fleet-local-1/counts.json` }),
    );
    expect(JSON.parse(await counts.Body!.transformToString())).toEqual(truth);
    const ledger = await getRun(ddb.client, table, "wordcount", "fleet-local-1");
    expect(ledger).toMatchObject({
      status: "SUCCEEDED",
      total_items: 25,
      succeeded_items: 25,
      failed_items: 0,
    });
    expect(ledger!.results_location).toBe(`s3://${bucket}/etl/results/wordcount/fleet-local-1/`);

    // Each principal's calls, against the policy the component gave it.
    for (const [role, requests] of Object.entries(calls)) expect(requests.length, role).toBeGreaterThan(0);
    expect(await denied(calls)).toEqual(NONE);
    // The policies are not vacuous: what one role does, another may not.
    const allowed = await policies();
    const manifestWrite = calls.planner.find((r) => r.action === "s3:PutObject")!;
    expect(manifestWrite.resource).toMatch(/\/etl\/manifests\/wordcount\/fleet-local-1\//);
    expect(allows(allowed.worker, manifestWrite)).toBe(false);
    const countsWrite = calls.finalizer.find((r) => r.action === "s3:PutObject")!;
    expect(allows(allowed.planner, countsWrite)).toBe(false);
    expect(calls.stateMachine.map((r) => r.action)).toEqual(
      expect.arrayContaining([
        "lambda:InvokeFunction",
        "dynamodb:UpdateItem",
        "s3:GetObject",
        "s3:PutObject",
      ]),
    );

    // And every object the run wrote is under one of those granted prefixes.
    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket }));
    const written = (listed.Contents ?? [])
      .map((o) => o.Key!)
      .filter((k) => !k.startsWith(DEFAULT_INPUT_PREFIX));
    for (const key of written) {
      expect(key).toMatch(/^etl\/(manifests|results|outputs)\/wordcount\//);
    }
  });

  it("over tolerance: fails, records it in the ledger, and resumes on re-run - all within the policies", async () => {
    // wordcount tolerates 5% failed items: 3 of 25 failing objects (in 3 batches of 8) is over it.
    const failing = new Set([
      `${DEFAULT_INPUT_PREFIX}doc-0.txt`,
      `${DEFAULT_INPUT_PREFIX}doc-9.txt`,
      `${DEFAULT_INPUT_PREFIX}doc-20.txt`,
    ]);
    const failed = await runFleet("fleet-local-2", failing);
    expect(failed.result.status).toBe("FAILED");
    const row = await getRun(ddb.client, table, "wordcount", "fleet-local-2");
    expect(row).toMatchObject({ status: "FAILED", error: "States.ExceedToleratedFailureThreshold" });
    expect(await denied(failed.calls)).toEqual(NONE);

    // The same run id again, the failures gone: only the failed batches are redone.
    const resumed = await runFleet("fleet-local-2");
    expect(resumed.result.status).toBe("SUCCEEDED");
    expect((resumed.result as { output: RunSummary }).output).toMatchObject({
      total_items: 25,
      succeeded_items: 25,
      failed_items: 0,
    });
    const resumedRow = await getRun(ddb.client, table, "wordcount", "fleet-local-2");
    expect(resumedRow).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
    expect(Number(resumedRow!.skipped_items)).toBeGreaterThan(0);
    expect(await denied(resumed.calls)).toEqual(NONE);
    // Resuming read the first attempt's results: the planner listed and read them under its grant.
    expect(
      resumed.calls.planner.some(
        (r) => r.action === "s3:GetObject" && r.resource.includes("/etl/results/wordcount/fleet-local-2/"),
      ),
    ).toBe(true);
  });
});
