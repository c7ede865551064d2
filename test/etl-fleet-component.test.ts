// EtlFleet under Pulumi mocks: the resource graph, the IAM documents, the ASL the state machine gets
// (validated with asl-validator), the ledger, alarms and schedule.
import { createRequire } from "node:module";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  installMocks,
  type MockedResource,
  valueOf as resolved,
  settle,
  typeChain,
} from "./support/pulumi-mocks.js";

const resources: MockedResource[] = await installMocks();
const { EtlFleet, scheduledRunInput } = await import("../components/etl-fleet.js");
const { wordcount, DEFAULT_INPUT_PREFIX, OUTPUT_PREFIX } = await import("../etl/wordcount/job.js");
const { buildEtlDefinition } = await import("../etl/definition.js");

const aslValidator = createRequire(import.meta.url)("asl-validator") as (definition: unknown) => {
  isValid: boolean;
  errors: unknown[];
};
// asl-validator writes defaults (QueryLanguage) into what it is given: validate a copy.
const validateAsl = (definition: unknown) => aslValidator(structuredClone(definition));

const fixtures = join(import.meta.dirname, "fixtures", "etl-fleet");
const handlers = {
  planner: { entry: join(fixtures, "planner.ts"), reads: ["input/docs/"] },
  worker: {
    entry: join(fixtures, "worker.ts"),
    reads: ["input/docs/"],
    writes: ["output/chars/"],
    memorySize: 2048,
  },
  finalizer: { entry: join(fixtures, "finalizer.ts") },
};
const ACCOUNT = "123456789012";
const REGION = "us-east-1";

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, unknown>>;
}
interface PolicyDoc {
  Statement: Statement[];
}

/** The mocked resource of one child, found by its logical name. */
function byName(name: string): MockedResource {
  const found = resources.find((r) => r.name === name);
  if (!found) throw new Error(`no resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
  return found;
}
const has = (name: string) => resources.some((r) => r.name === name);
async function policyOf(name: string): Promise<PolicyDoc> {
  return JSON.parse(await resolved(byName(name).inputs.policy as string)) as PolicyDoc;
}
function statementWith(doc: PolicyDoc, action: string): Statement[] {
  return doc.Statement.filter((s) => s.Action.includes(action));
}
function assertLeastPrivilege(doc: PolicyDoc) {
  for (const s of doc.Statement) {
    for (const a of s.Action) expect(a, `action ${a}`).not.toContain("*");
    if (s.Resource.includes("*")) {
      // Only actions AWS offers no resource ARN for (CloudWatch Logs delivery, X-Ray).
      for (const a of s.Action)
        expect(a).toMatch(
          /^(logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)|xray:\w+)$/,
        );
    }
  }
}

// One distributed fleet with its own bucket and topic, one inline fleet on a given bucket and topic with
// a schedule, and one STANDARD-children fleet.
const fleet = new EtlFleet("chars", {
  job: "chars",
  ...handlers,
  concurrency: 25,
  batching: { maxItems: 50, maxBytes: 128 * 1024 },
  toleratedFailurePercentage: 5,
});
const inline = new EtlFleet("small", {
  job: "small",
  mode: "inline",
  ...handlers,
  bucket: { name: "pipeline-bucket", arn: "arn:aws:s3:::pipeline-bucket" },
  alarmTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:ops-alarms`,
  schedule: { expression: "rate(1 hour)" },
  ledgerTtlDays: 30,
  transform: {
    ledger: { deletionProtectionEnabled: true },
    stateMachine: (args) => {
      args.tags = { team: "data" };
    },
  },
});
const standard = new EtlFleet("long", {
  job: "long",
  ...handlers,
  childExecutionType: "STANDARD",
  timeouts: { workerSeconds: 900 },
});
// No finalizer of its own: the generic one (functions/etl-finalizer) summarizes the Map's results.
// The built-in demo job, deployed with the spec the local runner uses.
const wordcountFleet = new EtlFleet("wordcount", {
  ...EtlFleet.fromJob(wordcount, {
    planner: { reads: [DEFAULT_INPUT_PREFIX] },
    worker: { reads: [DEFAULT_INPUT_PREFIX] },
    finalizer: { writes: [OUTPUT_PREFIX] },
  }),
});
// On a caller's SSE-KMS bucket.
const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/0b4c7d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e`;
new EtlFleet("sealed", {
  ...handlers,
  bucket: { name: "sealed-bucket", arn: "arn:aws:s3:::sealed-bucket", kmsKeyArn: KEY },
});
let finalizerCode: any;
const noFinalizer = new EtlFleet("nofin", {
  planner: handlers.planner,
  worker: handlers.worker,
  transform: {
    finalizer: {
      function: (args) => {
        finalizerCode = args.code;
      },
    },
  },
});

let asl: Record<string, any>;
let machineArn: string;
beforeAll(async () => {
  asl = JSON.parse(await resolved(fleet.definition));
  machineArn = await resolved(fleet.stateMachineArn);
  await settle();
});

describe("EtlFleet resource graph", () => {
  it("parents every child to the component and names it after the component", async () => {
    expect(await typeChain(fleet)).toBe("observatory:aws:EtlFleet");
    const children: [unknown, string][] = [
      [fleet.bucket, "aws:s3/bucket:Bucket"],
      [fleet.ledger, "aws:dynamodb/table:Table"],
      [fleet.role, "aws:iam/role:Role"],
      [fleet.policy, "aws:iam/rolePolicy:RolePolicy"],
      [fleet.selfPolicy, "aws:iam/rolePolicy:RolePolicy"],
      [fleet.logGroup, "aws:cloudwatch/logGroup:LogGroup"],
      [fleet.stateMachine, "aws:sfn/stateMachine:StateMachine"],
      [fleet.alarmTopic, "aws:sns/topic:Topic"],
      [fleet.failedAlarm, "aws:cloudwatch/metricAlarm:MetricAlarm"],
      [fleet.timedOutAlarm, "aws:cloudwatch/metricAlarm:MetricAlarm"],
      [fleet.planner, "observatory:aws:LambdaFunction"],
      [fleet.worker, "observatory:aws:LambdaFunction"],
      [fleet.finalizer, "observatory:aws:LambdaFunction"],
    ];
    for (const [child, type] of children) {
      expect(child, type).toBeDefined();
      expect(await typeChain(child as any)).toBe(`observatory:aws:EtlFleet$${type}`);
    }
    expect(await typeChain(fleet.worker.function)).toBe(
      "observatory:aws:LambdaFunction$aws:lambda/function:Function",
    );
    for (const n of [
      "chars-bucket",
      "chars-ledger",
      "chars-role",
      "chars-state-machine",
      "chars-failed-alarm",
      "chars-worker-function",
    ])
      expect(has(n), n).toBe(true);
  });

  it("deploys the three functions on nodejs22.x arm64 with the spec's timeouts and the given memory", () => {
    const worker = byName("chars-worker-function").inputs;
    expect(worker).toMatchObject({
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      timeout: 120,
      memorySize: 2048,
    });
    expect(byName("chars-planner-function").inputs).toMatchObject({
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      timeout: 300,
      memorySize: 512,
    });
    expect(byName("long-worker-function").inputs.timeout).toBe(900);
    expect((worker.environment as any).variables).toMatchObject({
      OBSERVATORY_ETL_JOB: "chars",
      OBSERVATORY_BUCKET: "chars-bucket-abc123",
    });
  });

  it("makes a schedule only when asked", () => {
    expect(fleet.schedule).toBeUndefined();
    expect(has("chars-schedule")).toBe(false);
    expect(inline.schedule).toBeDefined();
    expect(has("small-schedule")).toBe(true);
  });

  it("uses a given bucket and topic instead of creating them", () => {
    expect(inline.bucket).toBeUndefined();
    expect(inline.alarmTopic).toBeUndefined();
    expect(has("small-bucket")).toBe(false);
    expect(has("small-alarms")).toBe(false);
  });

  it("creates the ledger on demand with job/run keys, TTL on expires_at and point-in-time recovery", () => {
    const ledger = byName("chars-ledger").inputs;
    expect(ledger).toMatchObject({
      billingMode: "PAY_PER_REQUEST",
      hashKey: "job",
      rangeKey: "run",
      attributes: [
        { name: "job", type: "S" },
        { name: "run", type: "S" },
      ],
      ttl: { attributeName: "expires_at", enabled: true },
      pointInTimeRecovery: { enabled: true },
    });
    expect(byName("small-ledger").inputs.deletionProtectionEnabled).toBe(true);
  });

  it("keeps its own bucket private, TLS-only, and expires its ETL objects with the ledger rows", async () => {
    const lifecycle = byName("chars-bucket-lifecycle").inputs as any;
    expect(lifecycle.rules[0]).toMatchObject({
      status: "Enabled",
      filter: { prefix: "etl/" },
      expiration: { days: 90 },
    });
    const bucketPolicy = JSON.parse(await resolved(byName("chars-bucket-policy").inputs.policy as string));
    expect(bucketPolicy.Statement).toEqual([
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: ["arn:aws:s3:::chars-bucket-abc123", "arn:aws:s3:::chars-bucket-abc123/*"],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ]);
    expect(has("small-bucket-policy")).toBe(false);
    expect(byName("chars-bucket-public-access").inputs).toMatchObject({
      blockPublicAcls: true,
      restrictPublicBuckets: true,
    });
  });
});

describe("EtlFleet state machine", () => {
  it("gets a definition asl-validator accepts, pointing at its own functions, bucket and ledger", async () => {
    const result = validateAsl(asl);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
    const machine = byName("chars-state-machine").inputs;
    expect(machine.type).toBe("STANDARD");
    expect(JSON.parse(machine.definition as string)).toEqual(asl);
    expect(asl.States.Plan.Resource).toBe(
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:chars-planner-function-abc123`,
    );
    expect(asl.States.Finalize.Resource).toBe(
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:chars-finalizer-function-abc123`,
    );
    expect(asl.States.StartRun.Parameters.TableName).toBe("chars-ledger-abc123");
    const map = asl.States.ProcessItems;
    expect(map.ItemProcessor.States.Work.Resource).toBe(
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:chars-worker-function-abc123`,
    );
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: "DISTRIBUTED", ExecutionType: "EXPRESS" });
    expect(map).toMatchObject({ MaxConcurrency: 25, ToleratedFailurePercentage: 5 });
    expect(map.ItemBatcher).toMatchObject({ MaxItemsPerBatch: 50, MaxInputBytesPerBatch: 131072 });
    expect(map.ResultWriter.Parameters.Bucket).toBe("chars-bucket-abc123");
  });

  it("runs STANDARD child executions when asked", async () => {
    const def = JSON.parse(await resolved(standard.definition));
    expect(validateAsl(def).isValid).toBe(true);
    expect(def.States.ProcessItems.ItemProcessor.ProcessorConfig).toEqual({
      Mode: "DISTRIBUTED",
      ExecutionType: "STANDARD",
    });
  });

  it("inline mode: an inline Map, no manifest or results grants, no self policy", async () => {
    const def = JSON.parse(await resolved(inline.definition));
    expect(validateAsl(def).isValid).toBe(true);
    expect(def.States.ProcessItems.ItemProcessor.ProcessorConfig).toEqual({ Mode: "INLINE" });
    expect(def.States.ProcessItems.ItemReader).toBeUndefined();
    expect(inline.selfPolicy).toBeUndefined();
    const policy = await policyOf("small-policy");
    expect(
      policy.Statement.flatMap((s) => s.Action).filter((a) => a.startsWith("s3:") || a.startsWith("states:")),
    ).toEqual([]);
  });

  it("logs to its own log group", async () => {
    const machine = byName("chars-state-machine").inputs as any;
    const logGroupArn = await resolved(fleet.logGroup.arn);
    expect(machine.loggingConfiguration).toMatchObject({
      logDestination: `${logGroupArn}:*`,
      level: "ERROR",
    });
    expect(byName("chars-logs").inputs.namePrefix).toBe("/aws/vendedlogs/states/chars-");
    expect(byName("small-state-machine").inputs.tags).toEqual({ team: "data" });
  });
});

describe("EtlFleet IAM", () => {
  it("lets the state machine invoke only its functions, write only its ledger, touch only its prefixes", async () => {
    const doc = await policyOf("chars-policy");
    assertLeastPrivilege(doc);
    const fn = (role: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:chars-${role}-function-abc123`;
    const [invoke] = statementWith(doc, "lambda:InvokeFunction");
    expect(invoke!.Resource.sort()).toEqual(
      ["planner", "worker", "finalizer"].flatMap((r) => [fn(r), `${fn(r)}:*`]).sort(),
    );
    const [ledger] = statementWith(doc, "dynamodb:UpdateItem");
    expect(ledger!.Resource).toEqual([`arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/chars-ledger-abc123`]);
    const s3Resources = doc.Statement.filter((s) => s.Action.some((a) => a.startsWith("s3:"))).flatMap(
      (s) => s.Resource,
    );
    expect(s3Resources.sort()).toEqual([
      "arn:aws:s3:::chars-bucket-abc123/etl/manifests/chars/*",
      "arn:aws:s3:::chars-bucket-abc123/etl/results/chars/*",
    ]);
    expect(statementWith(doc, "states:StartExecution")).toEqual([]);
  });

  it("lets only Step Functions of this account assume the role, and delivers its logs", async () => {
    const trust = JSON.parse(await resolved(byName("chars-role").inputs.assumeRolePolicy as string));
    expect(trust.Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "states.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT } },
      },
    ]);
    const doc = await policyOf("chars-policy");
    const [logs] = statementWith(doc, "logs:CreateLogDelivery");
    expect(logs).toMatchObject({ Sid: "DeliverExecutionLogs", Resource: ["*"] });
    // The machine is created only once its role may deliver logs (CreateStateMachine checks it).
    expect(doc.Statement.filter((s) => s.Resource.includes("*"))).toEqual([logs]);
  });

  it("lets a Distributed Map start, describe and stop only its own child executions", async () => {
    const doc = await policyOf("chars-self-policy");
    assertLeastPrivilege(doc);
    expect(doc.Statement).toEqual([
      {
        Sid: "StartOwnChildExecutions",
        Effect: "Allow",
        Action: ["states:StartExecution"],
        Resource: [machineArn],
      },
      {
        Sid: "ManageOwnChildExecutions",
        Effect: "Allow",
        Action: ["states:DescribeExecution", "states:StopExecution"],
        Resource: [`arn:aws:states:${REGION}:${ACCOUNT}:execution:chars-state-machine-abc123/*`],
      },
    ]);
    expect(machineArn).toBe(`arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:chars-state-machine-abc123`);
  });

  it("scopes each function to its declared prefixes (planner: manifests + results, worker: its data)", async () => {
    const bucket = "arn:aws:s3:::chars-bucket-abc123";
    const planner = await policyOf("chars-planner-policy");
    assertLeastPrivilege(planner);
    expect(statementWith(planner, "s3:PutObject")[0]!.Resource).toEqual([`${bucket}/etl/manifests/chars/*`]);
    expect(statementWith(planner, "s3:GetObject")[0]!.Resource.sort()).toEqual([
      `${bucket}/etl/results/chars/*`,
      `${bucket}/input/docs/*`,
    ]);
    expect(statementWith(planner, "s3:ListBucket")[0]).toMatchObject({
      Resource: [bucket],
      Condition: { StringLike: { "s3:prefix": ["etl/results/chars/*", "input/docs/*"] } },
    });
    const worker = await policyOf("chars-worker-policy");
    assertLeastPrivilege(worker);
    expect(statementWith(worker, "s3:GetObject")[0]!.Resource).toEqual([`${bucket}/input/docs/*`]);
    expect(statementWith(worker, "s3:PutObject")[0]!.Resource).toEqual([`${bucket}/output/chars/*`]);
    expect(worker.Statement.flatMap((s) => s.Resource).some((r) => r.includes("etl/manifests"))).toBe(false);
    const finalizer = await policyOf("chars-finalizer-policy");
    expect(statementWith(finalizer, "s3:PutObject")).toEqual([]);
    expect(statementWith(finalizer, "s3:GetObject")[0]!.Resource).toEqual([`${bucket}/etl/results/chars/*`]);
  });

  it("grants the bucket's KMS key (decrypt, generate data key) where S3 objects are read or written", async () => {
    for (const name of [
      "sealed-policy",
      "sealed-planner-policy",
      "sealed-worker-policy",
      "sealed-finalizer-policy",
    ]) {
      const doc = await policyOf(name);
      assertLeastPrivilege(doc);
      expect(statementWith(doc, "kms:Decrypt"), name).toEqual([
        { Effect: "Allow", Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: [KEY] },
      ]);
    }
    expect(statementWith(await policyOf("chars-policy"), "kms:Decrypt")).toEqual([]);
  });

  it("uses a given bucket's ARN for the grants", async () => {
    const planner = await policyOf("small-planner-policy");
    expect(statementWith(planner, "s3:PutObject")[0]!.Resource).toEqual([
      "arn:aws:s3:::pipeline-bucket/etl/manifests/small/*",
    ]);
  });
});

describe("EtlFleet alarms and schedule", () => {
  it("alarms on failed and timed-out executions of this machine to the topic", async () => {
    const topicArn = await resolved(fleet.alarmTopicArn);
    expect(topicArn).toBe(`arn:aws:sns:${REGION}:${ACCOUNT}:chars-alarms-abc123`);
    for (const [name, metric] of [
      ["chars-failed-alarm", "ExecutionsFailed"],
      ["chars-timed-out-alarm", "ExecutionsTimedOut"],
    ] as const) {
      const alarm = byName(name).inputs;
      expect(alarm).toMatchObject({
        namespace: "AWS/States",
        metricName: metric,
        dimensions: { StateMachineArn: machineArn },
        statistic: "Sum",
        threshold: 1,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        treatMissingData: "notBreaching",
        alarmActions: [topicArn],
      });
    }
    expect(byName("small-failed-alarm").inputs.alarmActions).toEqual([
      `arn:aws:sns:${REGION}:${ACCOUNT}:ops-alarms`,
    ]);
  });

  it("starts the machine on schedule with a role allowed only states:StartExecution on it", async () => {
    const smallArn = await resolved(inline.stateMachineArn);
    const schedule = byName("small-schedule").inputs as any;
    expect(schedule).toMatchObject({
      scheduleExpression: "rate(1 hour)",
      scheduleExpressionTimezone: "UTC",
      flexibleTimeWindow: { mode: "OFF" },
    });
    expect(schedule.target.arn).toBe(smallArn);
    expect(schedule.target.roleArn).toBe(await resolved(inline.scheduleRole!.arn));
    expect(JSON.parse(schedule.target.input)).toEqual(scheduledRunInput());
    expect(JSON.parse(schedule.target.input).run_id).toContain("<aws.scheduler.scheduled-time>");
    const trust = JSON.parse(await resolved(byName("small-schedule-role").inputs.assumeRolePolicy as string));
    expect(trust.Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "scheduler.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": ACCOUNT } },
      },
    ]);
    const policy = await policyOf("small-schedule-policy");
    expect(policy.Statement).toEqual([
      { Effect: "Allow", Action: ["states:StartExecution"], Resource: [smallArn] },
    ]);
  });
});

describe("EtlFleet arguments", () => {
  it("deploys the generic finalizer when the job brings none", async () => {
    const assets = await finalizerCode.assets;
    const bundle: string = await assets["index.mjs"].text;
    expect(bundle).toContain("the generic ETL finalizer has no");
    const def = JSON.parse(await resolved(noFinalizer.definition));
    expect(def.States.Finalize.Resource).toBe(
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:nofin-finalizer-function-abc123`,
    );
  });

  it("deploys a registered job with the definition the local runner runs", async () => {
    const deployed = JSON.parse(await resolved(wordcountFleet.definition));
    const fn = (role: string) =>
      `arn:aws:lambda:${REGION}:${ACCOUNT}:function:wordcount-${role}-function-abc123`;
    const expected = buildEtlDefinition(wordcount.spec, {
      plannerArn: fn("planner"),
      workerArn: fn("worker"),
      finalizerArn: fn("finalizer"),
      bucket: "wordcount-bucket-abc123",
      manifestPrefix: "etl/manifests/",
      resultsPrefix: "etl/results/",
      ledgerTable: "wordcount-ledger-abc123",
      ledgerTableArn: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/wordcount-ledger-abc123`,
    }).definition;
    expect(deployed).toEqual(JSON.parse(JSON.stringify(expected)));
    expect(deployed.States.ProcessItems).toMatchObject({
      MaxConcurrency: 4,
      ToleratedFailurePercentage: 5,
      ItemBatcher: { MaxItemsPerBatch: 8 },
    });
    const worker = await policyOf("wordcount-worker-policy");
    expect(statementWith(worker, "s3:GetObject")[0]!.Resource).toEqual([
      "arn:aws:s3:::wordcount-bucket-abc123/etl/inputs/wordcount/*",
    ]);
    const finalizer = await policyOf("wordcount-finalizer-policy");
    expect(statementWith(finalizer, "s3:PutObject")[0]!.Resource).toEqual([
      "arn:aws:s3:::wordcount-bucket-abc123/etl/outputs/wordcount/*",
    ]);
  });

  it("fromJob takes a registered job's spec and our handlers for it", () => {
    const args = EtlFleet.fromJob(
      {
        spec: {
          name: "compaction",
          concurrency: 7,
          batching: { maxItems: 1 },
          toleratedFailurePercentage: 10,
        },
      },
      { worker: { reads: ["raw/"], writes: ["tables/"], memorySize: 3008 } },
    );
    expect(args).toMatchObject({
      job: "compaction",
      concurrency: 7,
      batching: { maxItems: 1 },
      toleratedFailurePercentage: 10,
    });
    expect(args.planner.entry).toBe(
      join(import.meta.dirname, "..", "functions", "compaction-planner", "handler.ts"),
    );
    expect(args.worker).toMatchObject({
      entry: join(import.meta.dirname, "..", "functions", "compaction-worker", "handler.ts"),
      reads: ["raw/"],
      writes: ["tables/"],
      memorySize: 3008,
    });
    expect(args.finalizer?.entry).toBe(
      join(import.meta.dirname, "..", "functions", "compaction-finalizer", "handler.ts"),
    );
  });

  it("refuses a spec Step Functions would refuse, saying why", () => {
    expect(() => new EtlFleet("bad", { ...handlers, batching: { maxBytes: 512 * 1024 } })).toThrow(
      /maxBytes.*256 KiB/,
    );
    expect(() => new EtlFleet("bad2", { ...handlers, timeouts: { workerSeconds: 600 } })).toThrow(
      /EXPRESS.*STANDARD/,
    );
  });
});
