// The ASL the EtlFleet component hands to aws.sfn.StateMachine (under Pulumi mocks) is executed by the
// local runner, its Task ARNs bound to the handlers the component bundles, S3 on s3rver and the ledger
// on dynalite: what AWS would run gives the ground-truth word counts and a SUCCEEDED ledger row. Every
// AWS call each principal makes on the way (state machine, planner, worker, finalizer) is recorded and
// checked against the IAM policy the component wrote for that principal: enough, and no more is used.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../etl/contracts.js";
import { type LocalDynamoDB, localDynamoDBClient, startLocalDynamoDB } from "../local/dynamodb-server.js";
import { type LocalS3, localS3Client, startLocalS3 } from "../local/s3-server.js";
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

/** One AWS request as IAM sees it: the action, the resource ARN, and the condition keys it carries. */
interface Request {
  action: string;
  resource: string;
  context: Record<string, string>;
}
interface Statement {
  Effect: string;
  Action: string[];
  Resource: string[];
  Condition?: { StringLike?: Record<string, string[]> };
}

/** IAM's `*` / `?` wildcards in ARNs and StringLike conditions. */
function globMatch(pattern: string, value: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replaceAll("*", ".*")
    .replaceAll("?", ".");
  return new RegExp(`^${re}$`).test(value);
}

/** Allowed when one Allow statement names the action, matches the resource and its StringLike conditions. */
function allows(policy: { Statement: Statement[] }, request: Request): boolean {
  return policy.Statement.some(
    (s) =>
      s.Effect === "Allow" &&
      s.Action.includes(request.action) &&
      s.Resource.some((r) => globMatch(r, request.resource)) &&
      Object.entries(s.Condition?.StringLike ?? {}).every(([key, patterns]) =>
        patterns.some((p) => request.context[key] !== undefined && globMatch(p, request.context[key])),
      ),
  );
}

const S3_ACTIONS: Record<string, (input: Record<string, string>) => Request> = {
  GetObjectCommand: (i) => ({
    action: "s3:GetObject",
    resource: `arn:aws:s3:::${i.Bucket}/${i.Key}`,
    context: {},
  }),
  PutObjectCommand: (i) => ({
    action: "s3:PutObject",
    resource: `arn:aws:s3:::${i.Bucket}/${i.Key}`,
    context: {},
  }),
  ListObjectsV2Command: (i) => ({
    action: "s3:ListBucket",
    resource: `arn:aws:s3:::${i.Bucket}`,
    context: { "s3:prefix": i.Prefix ?? "" },
  }),
};

/** A client for the local peer that records each request as an IAM request of `principal`. */
function recordingS3(endpoint: string, log: Request[]): S3Client {
  const client = localS3Client(endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const toRequest = S3_ACTIONS[context.commandName ?? ""];
      if (!toRequest) throw new Error(`no IAM mapping for ${context.commandName}; add it to the test`);
      log.push(toRequest(args.input as Record<string, string>));
      return next(args);
    },
    { step: "initialize", name: "recordIamRequest" },
  );
  return client;
}

function recordingDynamoDB(
  endpoint: string,
  tableArnOf: (table: string) => string,
  log: Request[],
): DynamoDBClient {
  const client = localDynamoDBClient(endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const action = `dynamodb:${(context.commandName ?? "").replace(/Command$/, "")}`;
      log.push({
        action,
        resource: tableArnOf((args.input as { TableName: string }).TableName),
        context: {},
      });
      return next(args);
    },
    { step: "initialize", name: "recordIamRequest" },
  );
  return client;
}

async function policyOf(name: string): Promise<{ Statement: Statement[] }> {
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

  it("counts the words of every input object, calling only what each role's policy allows", async () => {
    const texts = Array.from({ length: 25 }, (_, n) => demoDocument(n + 300));
    for (const [n, text] of texts.entries()) {
      await s3.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${DEFAULT_INPUT_PREFIX}doc-${n}.txt`, Body: text }),
      );
    }
    const truth: Record<string, number> = {};
    for (const text of texts) countWords(text, truth);

    const calls: Record<"stateMachine" | "planner" | "worker" | "finalizer", Request[]> = {
      stateMachine: [],
      planner: [],
      worker: [],
      finalizer: [],
    };
    const tableArn = await resolved(fleet.ledger.arn);
    const clientFor = (role: keyof typeof calls) => {
      const client = recordingS3(s3.endpoint, calls[role]);
      return () => client;
    };
    const invoked = (arn: string, handler: (input: never) => Promise<unknown>) => async (input: unknown) => {
      calls.stateMachine.push({ action: "lambda:InvokeFunction", resource: arn, context: {} });
      return handler(input as never);
    };
    const plannerArn = await resolved(fleet.planner.arn);
    const workerArn = await resolved(fleet.worker.arn);
    const finalizerArn = await resolved(fleet.finalizer.arn);
    const definition = JSON.parse(await resolved(fleet.definition));
    const result = await runLocalExecution({
      definition,
      input: { run_id: "fleet-local-1", input: {} },
      stateMachineArn: await resolved(fleet.stateMachineArn),
      executionName: "fleet-local-1",
      resources: {
        [plannerArn]: invoked(plannerArn, plannerHandler(wordcount, clientFor("planner"))),
        [workerArn]: invoked(workerArn, workerHandler(wordcount, clientFor("worker"))),
        [finalizerArn]: invoked(finalizerArn, finalizerHandler(wordcount, clientFor("finalizer"))),
        ...dynamoDBIntegrations(recordingDynamoDB(ddb.endpoint, () => tableArn, calls.stateMachine)),
      },
      // ItemReader and ResultWriter act as the state machine's role.
      s3: clientFor("stateMachine")(),
    });
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
    const policies = {
      stateMachine: await policyOf("wordcount-policy"),
      planner: await policyOf("wordcount-planner-policy"),
      worker: await policyOf("wordcount-worker-policy"),
      finalizer: await policyOf("wordcount-finalizer-policy"),
    };
    for (const [role, requests] of Object.entries(calls) as [keyof typeof calls, Request[]][]) {
      expect(requests.length, role).toBeGreaterThan(0);
      const denied = requests.filter((r) => !allows(policies[role], r));
      expect(denied, `${role} made calls its policy does not allow`).toEqual([]);
    }
    // The policies are not vacuous: what one role does, another may not.
    const manifestWrite = calls.planner.find((r) => r.action === "s3:PutObject")!;
    expect(manifestWrite.resource).toMatch(/\/etl\/manifests\/wordcount\/fleet-local-1\//);
    expect(allows(policies.worker, manifestWrite)).toBe(false);
    const countsWrite = calls.finalizer.find((r) => r.action === "s3:PutObject")!;
    expect(allows(policies.planner, countsWrite)).toBe(false);
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
});
