// The runner's guarantees that are not about a job: the Promise.withResolvers polyfill is faithful
// (a task that succeeds inside a Catch really succeeds), and nothing in a definition is silently ignored.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MapState, StateMachineDefinition } from "../etl/asl.js";
import { buildEtlDefinition, STATE } from "../etl/definition.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { localRefs } from "../local/step-functions/local-etl.js";
import { runLocalExecution } from "../local/step-functions/runner.js";
import { PROMISE_WITH_RESOLVERS_POLYFILLED } from "../local/step-functions/state-machine.js";

let dir: string;
let s3: LocalS3;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "obs-etl-adapter-"));
  s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
});
afterAll(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

/** lib ES2023 has no typing for Promise.withResolvers (ES2024). */
type WithResolvers = {
  withResolvers<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (reason: unknown) => void };
};
const P = Promise as unknown as WithResolvers;

const SM = "arn:aws:states:us-east-1:000000000000:stateMachine:adapter-test";
const FN = "arn:aws:lambda:us-east-1:000000000000:function:echo";

describe("Promise.withResolvers polyfill", () => {
  it("is active on this Node (20) and behaves like the spec: settles once, honors subclasses", async () => {
    expect(PROMISE_WITH_RESOLVERS_POLYFILLED).toBe(Number(process.versions.node.split(".")[0]) < 22);
    const { promise, resolve, reject } = P.withResolvers<number>();
    resolve(1);
    reject(new Error("ignored: already resolved"));
    resolve(2);
    await expect(promise).resolves.toBe(1);
    class Tagged<T> extends Promise<T> {}
    expect((Tagged as unknown as WithResolvers).withResolvers<number>().promise).toBeInstanceOf(Tagged);
    const rejected = P.withResolvers<number>();
    rejected.reject(new Error("boom"));
    await expect(rejected.promise).rejects.toThrow("boom");
  });

  it("a Task inside a Catch that succeeds really succeeds (the Catch is not hiding a polyfill error)", async () => {
    const definition: StateMachineDefinition = {
      StartAt: "Call",
      States: {
        Call: {
          Type: "Task",
          Resource: FN,
          Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Caught" }],
          ResultPath: "$.result",
          Next: "Ok",
        },
        Ok: { Type: "Succeed" },
        Caught: { Type: "Fail", ErrorPath: "$.error.Error", CausePath: "$.error.Cause" },
      },
    };
    let calls = 0;
    const ok = await runLocalExecution({
      definition,
      input: { x: 2 },
      stateMachineArn: SM,
      executionName: "ok",
      s3: s3.client,
      resources: { [FN]: async (input) => ({ doubled: (input as { x: number }).x * 2, calls: ++calls }) },
    });
    expect(ok).toMatchObject({ status: "SUCCEEDED", output: { x: 2, result: { doubled: 4, calls: 1 } } });
    // And a task that throws is caught with its own error name, not a TypeError from the runner.
    const failed = await runLocalExecution({
      definition,
      input: { x: 2 },
      stateMachineArn: SM,
      executionName: "ko",
      s3: s3.client,
      resources: {
        [FN]: async () => Promise.reject(Object.assign(new Error("nope"), { name: "CustomError" })),
      },
    });
    expect(failed).toMatchObject({ status: "FAILED", error: "CustomError", cause: "nope" });
  });
});

describe("payload limits", () => {
  it("a result over 256 KiB fails the execution with States.DataLimitExceeded, which Catch cannot catch", async () => {
    const definition: StateMachineDefinition = {
      StartAt: "Call",
      States: {
        Call: {
          Type: "Task",
          Resource: FN,
          Catch: [{ ErrorEquals: ["States.ALL"], Next: "Caught" }],
          End: true,
        },
        Caught: { Type: "Succeed" },
      },
    };
    const result = await runLocalExecution({
      definition,
      input: {},
      stateMachineArn: SM,
      executionName: "big",
      s3: s3.client,
      resources: { [FN]: async () => ({ blob: "x".repeat(300 * 1024) }) },
    });
    expect(result).toMatchObject({ status: "FAILED", error: "States.DataLimitExceeded" });
    expect((result as { cause: string }).cause).toMatch(/over the 262144-byte state payload limit/);
  });
});

describe("no field is silently ignored", () => {
  const base = () => buildEtlDefinition({ name: "strict" }, localRefs("strict", "bucket")).definition;
  const run = (definition: StateMachineDefinition, resources = {}) =>
    runLocalExecution({
      definition,
      input: {},
      stateMachineArn: SM,
      executionName: "x",
      s3: s3.client,
      resources,
    });
  const allBound = () => {
    const refs = localRefs("strict", "bucket");
    const never = async () => {
      throw new Error("must not run");
    };
    return {
      [refs.plannerArn]: never,
      [refs.workerArn]: never,
      [refs.finalizerArn]: never,
      "arn:aws:states:::dynamodb:updateItem": never,
    };
  };

  it.each([
    [
      "a Map field the adapter does not implement",
      (m: MapState) => Object.assign(m, { MaxConcurrencyPath: "$.n" }),
      /MaxConcurrencyPath/,
    ],
    [
      "an ItemReader option",
      (m: MapState) => Object.assign(m.ItemReader!.ReaderConfig, { CSVHeaderLocation: "FIRST_ROW" }),
      /CSVHeaderLocation/,
    ],
    [
      "an unsupported InputType",
      (m: MapState) => Object.assign(m.ItemReader!.ReaderConfig, { InputType: "CSV" }),
      /InputType CSV/,
    ],
    [
      "a ResultWriter WriterConfig",
      (m: MapState) => Object.assign(m.ResultWriter!, { WriterConfig: { OutputType: "JSONL" } }),
      /WriterConfig/,
    ],
    [
      "an ItemBatcher path field",
      (m: MapState) => Object.assign(m.ItemBatcher!, { MaxItemsPerBatchPath: "$.n" }),
      /MaxItemsPerBatchPath/,
    ],
  ])("rejects %s before anything runs", async (_what, mutate, message) => {
    const definition = base();
    mutate(definition.States[STATE.process] as MapState);
    await expect(run(definition, allBound())).rejects.toThrow(message);
  });

  it("rejects a Task whose resource has no local binding", async () => {
    const { [localRefs("strict", "bucket").workerArn]: _dropped, ...resources } = allBound();
    await expect(run(base(), resources)).rejects.toThrow(/no local binding for Task "Work"/);
  });
});

describe("execution timeout", () => {
  it("a definition's TimeoutSeconds ends the execution with States.Timeout", async () => {
    const definition: StateMachineDefinition = {
      StartAt: "Call",
      TimeoutSeconds: 1,
      States: {
        Call: {
          Type: "Task",
          Resource: FN,
          Catch: [{ ErrorEquals: ["States.ALL"], Next: "Caught" }],
          End: true,
        },
        Caught: { Type: "Succeed" },
      },
    };
    const result = await runLocalExecution({
      definition,
      input: {},
      stateMachineArn: SM,
      executionName: "slow",
      s3: s3.client,
      resources: { [FN]: () => new Promise((resolve) => setTimeout(() => resolve({}), 3000)) },
    });
    expect(result).toMatchObject({ status: "FAILED", error: "States.Timeout" });
  });
});

describe("worker pool", () => {
  it("fails every invocation with Runtime.ImportModuleError when the handler cannot be set up", async () => {
    const { createWorkerPool } = await import("../local/step-functions/worker-pool.js");
    const pool = createWorkerPool({
      setupModule: new URL("./does-not-exist.ts", import.meta.url),
      options: {},
      size: 2,
    });
    try {
      await expect(pool.invoke({})).rejects.toMatchObject({ name: "Runtime.ImportModuleError" });
      await expect(pool.invoke({})).rejects.toMatchObject({ name: "Runtime.ImportModuleError" });
    } finally {
      await pool.close();
    }
  });
});

describe("Distributed Map adapter on its own", () => {
  const mapDefinition = (inputType: "JSON" | "JSONL"): StateMachineDefinition => ({
    StartAt: "Map",
    States: {
      Map: {
        Type: "Map",
        ItemReader: {
          Resource: "arn:aws:states:::s3:getObject",
          ReaderConfig: { InputType: inputType, MaxItems: 3 },
          Parameters: { Bucket: s3.bucket, "Key.$": "$.key" },
        },
        ItemSelector: { "value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "tag.$": "$.tag" },
        ItemProcessor: {
          ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: "EXPRESS" },
          StartAt: "Double",
          States: { Double: { Type: "Task", Resource: FN, End: true } },
        },
        MaxConcurrency: 2,
        Catch: [{ ErrorEquals: ["States.ItemReaderFailed"], ResultPath: "$.error", Next: "ReadFailed" }],
        End: true,
      },
      ReadFailed: { Type: "Fail", ErrorPath: "$.error.Error", CausePath: "$.error.Cause" },
    },
  });
  const double = async (input: unknown) => {
    const { value, index, tag } = input as { value: number; index: number; tag: string };
    return { doubled: value * 2, index, tag };
  };

  it("without ItemBatcher or ResultWriter: each (selected) item is a child's input, the output is the children's outputs in order; MaxItems applies", async () => {
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "adapter/items.json", Body: "[5, 6, 7, 8]" }),
    );
    const result = await runLocalExecution({
      definition: mapDefinition("JSON"),
      input: { key: "adapter/items.json", tag: "t" },
      stateMachineArn: SM,
      executionName: "plain",
      s3: s3.client,
      resources: { [FN]: double },
    });
    expect(result).toMatchObject({
      status: "SUCCEEDED",
      output: [
        { doubled: 10, index: 0, tag: "t" },
        { doubled: 12, index: 1, tag: "t" },
        { doubled: 14, index: 2, tag: "t" },
      ],
    });
  });

  it("a manifest line that is not JSON is States.ItemReaderFailed, which the state's Catch handles", async () => {
    const { PutObjectCommand } = await import("@aws-sdk/client-s3");
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "adapter/bad.jsonl", Body: '{"a":1}\nnot json\n' }),
    );
    const result = await runLocalExecution({
      definition: mapDefinition("JSONL"),
      input: { key: "adapter/bad.jsonl", tag: "t" },
      stateMachineArn: SM,
      executionName: "bad",
      s3: s3.client,
      resources: { [FN]: double },
    });
    expect(result).toMatchObject({ status: "FAILED", error: "States.ItemReaderFailed" });
    expect((result as { cause: string }).cause).toMatch(/adapter\/bad\.jsonl line 2 is not JSON/);
  });
});
