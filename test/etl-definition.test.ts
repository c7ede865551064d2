import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import type { MapState, TaskState } from "../etl/asl.js";
import {
  buildEtlDefinition,
  LAMBDA_TRANSIENT_ERRORS,
  placeholderRefs,
  STATE,
  selfIamNeeds,
} from "../etl/definition.js";
import { MAX_BATCH_BYTES, resolveSpec } from "../etl/job-spec.js";

const require = createRequire(import.meta.url);
const validator = require("asl-validator") as (definition: unknown) => {
  isValid: boolean;
  errors: unknown[];
};

const refs = {
  ...placeholderRefs("demo"),
  bucket: "data-bucket",
  ledgerTableArn: "arn:aws:dynamodb:eu-west-1:123456789012:table/ledger",
};

describe("buildEtlDefinition", () => {
  it("generates ASL that asl-validator accepts, in both modes", () => {
    for (const mode of ["distributed", "inline"] as const) {
      const { definition } = buildEtlDefinition({ name: "demo", mode }, refs);
      const result = validator(JSON.parse(JSON.stringify(definition)));
      expect(result.errors).toEqual([]);
      expect(result.isValid).toBe(true);
    }
  });

  it("a distributed job reads a JSONL manifest, batches, writes results to S3 and tolerates what it was told to", () => {
    const { definition } = buildEtlDefinition(
      {
        name: "demo",
        concurrency: 7,
        batching: { maxItems: 25, maxBytes: 64 * 1024 },
        toleratedFailurePercentage: 5,
        childExecutionType: "STANDARD",
      },
      refs,
    );
    const map = definition.States[STATE.process] as MapState;
    expect(map.ItemReader).toEqual({
      Resource: "arn:aws:states:::s3:getObject",
      ReaderConfig: { InputType: "JSONL" },
      Parameters: { "Bucket.$": "$.plan.manifest.bucket", "Key.$": "$.plan.manifest.key" },
    });
    expect(map.ItemBatcher).toEqual({
      MaxItemsPerBatch: 25,
      MaxInputBytesPerBatch: 65536,
      BatchInput: { job: "demo", "run_id.$": "$.run_id", "input.$": "$.input" },
    });
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: "DISTRIBUTED", ExecutionType: "STANDARD" });
    expect(map.MaxConcurrency).toBe(7);
    expect(map.ToleratedFailurePercentage).toBe(5);
    // Not set: not emitted (AWS: when both are set, either one fails the run).
    expect("ToleratedFailureCount" in map).toBe(false);
    expect(map.ResultWriter?.Resource).toBe("arn:aws:states:::s3:putObject");
    expect(map.ResultWriter?.Parameters).toEqual({
      Bucket: "data-bucket",
      "Prefix.$": "States.Format('etl/results/demo/{}', $.run_id)",
    });
    expect(map.Catch?.[0]).toEqual({
      ErrorEquals: ["States.ALL"],
      ResultPath: "$.error",
      Next: STATE.recordFailed,
    });
  });

  it("retries Lambda service errors and TransientError with capped exponential backoff and full jitter", () => {
    const { definition } = buildEtlDefinition(
      { name: "demo", retry: { maxAttempts: 4, intervalSeconds: 2, backoffRate: 3, maxDelaySeconds: 20 } },
      refs,
    );
    const work = (definition.States[STATE.process] as MapState).ItemProcessor.States[STATE.work] as TaskState;
    expect(work.Resource).toBe(refs.workerArn);
    expect(work.Retry).toEqual([
      {
        ErrorEquals: [...LAMBDA_TRANSIENT_ERRORS, "TransientError"],
        IntervalSeconds: 2,
        MaxAttempts: 4,
        BackoffRate: 3,
        MaxDelaySeconds: 20,
        JitterStrategy: "FULL",
      },
    ]);
  });

  it("inline mode passes items in state and hands each worker a batch of one in the same shape", () => {
    const { definition, iam } = buildEtlDefinition({ name: "demo", mode: "inline" }, refs);
    const map = definition.States[STATE.process] as MapState;
    expect(map.ItemsPath).toBe("$.plan.items");
    expect(map.ItemSelector).toEqual({
      "Items.$": "States.Array($$.Map.Item.Value)",
      BatchInput: { job: "demo", "run_id.$": "$.run_id", "input.$": "$.input" },
    });
    expect(map.ItemReader).toBeUndefined();
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: "INLINE" });
    expect(iam.some((s) => s.actions.some((a) => a.startsWith("s3:")))).toBe(false);
  });

  it("every path ends in the ledger: success, failure with a Fail state, and an already-succeeded run", () => {
    const { definition } = buildEtlDefinition({ name: "demo" }, refs);
    const start = definition.States[STATE.startRun] as TaskState;
    expect(start.Resource).toBe("arn:aws:states:::dynamodb:updateItem");
    expect(start.Parameters?.ConditionExpression).toBe(
      "attribute_not_exists(#status) OR #status <> :succeeded",
    );
    expect(start.Catch).toEqual([
      {
        ErrorEquals: ["DynamoDB.ConditionalCheckFailedException"],
        Next: STATE.alreadySucceeded,
        ResultPath: null,
      },
    ]);
    expect(definition.States[STATE.recordFailed]).toMatchObject({ Type: "Task", Next: STATE.runFailed });
    expect(definition.States[STATE.runFailed]).toMatchObject({
      Type: "Fail",
      ErrorPath: "$.error.Error",
      CausePath: "$.error.Cause",
    });
    expect(definition.States[STATE.alreadySucceeded]).toMatchObject({ Type: "Succeed" });
    for (const name of [STATE.plan, STATE.finalize, STATE.recordPlan]) {
      expect((definition.States[name] as TaskState).Catch?.[0]?.Next).toBe(STATE.recordFailed);
    }
  });

  it("collects least-privilege IAM needs from the states: own functions, own prefixes, own table", () => {
    const { iam } = buildEtlDefinition({ name: "demo" }, refs);
    const all = [...iam, ...selfIamNeeds("arn:aws:states:eu-west-1:123456789012:stateMachine:demo-sm")];
    for (const statement of all) {
      expect(statement.actions.every((a) => a !== "*" && !a.endsWith(":*"))).toBe(true);
      expect(statement.resources.every((r) => r !== "*")).toBe(true);
    }
    const byId = Object.fromEntries(all.map((s) => [s.sid, s]));
    expect(byId.InvokeOwnFunctions?.resources).toContain(refs.workerArn);
    expect(byId.ReadManifests?.resources).toEqual(["arn:aws:s3:::data-bucket/etl/manifests/demo/*"]);
    expect(byId.WriteMapResults?.resources).toEqual(["arn:aws:s3:::data-bucket/etl/results/demo/*"]);
    expect(byId.WriteLedger).toEqual({
      sid: "WriteLedger",
      actions: ["dynamodb:UpdateItem"],
      resources: [refs.ledgerTableArn],
    });
    expect(byId.ManageOwnChildExecutions?.resources).toEqual([
      "arn:aws:states:eu-west-1:123456789012:execution:demo-sm/*",
    ]);
  });

  it("placeholder references say so", () => {
    const text = JSON.stringify(buildEtlDefinition({ name: "demo" }, placeholderRefs("demo")).definition);
    expect(text).toContain("function:PLACEHOLDER-demo-worker");
    expect(text).toContain("PLACEHOLDER-etl-ledger");
  });
});

describe("resolveSpec", () => {
  it("rejects what Step Functions would reject, saying why", () => {
    expect(() => resolveSpec({ name: "demo", batching: { maxBytes: MAX_BATCH_BYTES + 1 } })).toThrow(
      /256 KiB/,
    );
    expect(() => resolveSpec({ name: "demo", timeouts: { workerSeconds: 600 } })).toThrow(/EXPRESS/);
    expect(() => resolveSpec({ name: "demo", mode: "inline", toleratedFailureCount: 1 })).toThrow(
      /distributed/,
    );
    expect(() => resolveSpec({ name: "Bad Name" })).toThrow(/name/);
    expect(() => resolveSpec({ name: "demo", concurrency: 0 })).toThrow(/concurrency/);
  });
  it("fills documented defaults", () => {
    const spec = resolveSpec({ name: "demo" });
    expect(spec).toMatchObject({
      mode: "distributed",
      childExecutionType: "EXPRESS",
      retry: { jitter: "FULL" },
    });
    expect(spec.toleratedFailureCount).toBeUndefined();
  });
});
