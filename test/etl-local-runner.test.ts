import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EtlItem, JsonValue, ResultWriterManifest, RunSummary, WorkerEvent } from "../etl/contracts.js";
import { getJob } from "../etl/job-catalog.js";
import type { EtlJob } from "../etl/jobs.js";
import { itemsOf, readRunResults } from "../etl/map-results.js";
import { TransientError } from "../etl/transient-error.js";
import { DEMO_DOCUMENT_COUNT, demoDocument } from "../etl/wordcount/corpus.js";
import { DEFAULT_INPUT_PREFIX, wordcount } from "../etl/wordcount/job.js";
import { countWords } from "../etl/wordcount/tokenize.js";
import type { LocalDynamoDB } from "../local/dynamodb-server.js";
import type { LocalS3 } from "../local/s3-server.js";
import { batchItems } from "../local/step-functions/distributed-map.js";
import { type LocalJobOptions, runLocalJob } from "../local/step-functions/local-etl.js";
import type { LocalResource } from "../local/step-functions/runner.js";
import { type EtlPeers, startEtlPeers } from "./support/etl-peers.js";

let s3: LocalS3;
let ddb: LocalDynamoDB;

let peers: EtlPeers | undefined;
beforeAll(async () => {
  peers = await startEtlPeers("obs-etl-");
  ({ s3, ddb } = peers);
});
afterAll(() => peers?.close());

const run = (o: Omit<LocalJobOptions, "s3" | "bucket" | "dynamodb">) =>
  runLocalJob({
    s3: s3.client,
    bucket: s3.bucket,
    dynamodb: ddb.client,
    retryIntervalOverrides: { Work: 0 },
    ...o,
  });

/** Every key in the test bucket (s3rver lists at most 1000 a page; these tests stay well under). */
async function allKeys(): Promise<string[]> {
  const page = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  expect(page.IsTruncated).toBeFalsy();
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

async function getText(key: string): Promise<string> {
  const response = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return response.Body!.transformToString();
}

/** A job over `count` numbered items whose worker is `work`; it sums item numbers so results are checkable. */
function numbersJob(
  name: string,
  count: number,
  work: (items: (EtlItem & { n: number })[]) => Promise<void>,
  spec: Partial<EtlJob["spec"]> = {},
): EtlJob<EtlItem & { n: number }, { sum: number; ids: string[] }> {
  return {
    spec: { name, concurrency: 4, batching: { maxItems: 1 }, ...spec },
    async plan() {
      return Array.from({ length: count }, (_, n) => ({ id: `item-${String(n).padStart(3, "0")}`, n }));
    },
    async work(items) {
      await work(items);
      return { sum: items.reduce((s, i) => s + i.n, 0), ids: items.map((i) => i.id) };
    },
    async finalize(results) {
      return { sum: results.reduce((s, r) => s + r.sum, 0), batches: results.length };
    },
  };
}

/** Wraps the worker handler to count invocations per item id. */
function countingWorker(calls: Map<string, number>) {
  return (handler: LocalResource): LocalResource =>
    async (input) => {
      for (const item of (input as WorkerEvent).Items) calls.set(item.id, (calls.get(item.id) ?? 0) + 1);
      return handler(input);
    };
}

describe("local ETL runner", () => {
  it("wordcount over many S3 objects equals the ground truth computed directly", async () => {
    const prefix = "test-inputs/wordcount/";
    const texts = [
      ...Array.from({ length: 60 }, (_, n) => demoDocument(n + 100)),
      "Don't panic! Naïve café-goers can't count: ÜBER über Über.",
      "Numbers 42 and 4,2 and l33t; the END.",
    ];
    for (const [n, text] of texts.entries()) {
      await s3.client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: `${prefix}t-${n}.txt`, Body: text }),
      );
    }
    const truth: Record<string, number> = {};
    for (const text of texts) countWords(text, truth);

    // seed: true as `etl start --local` does: a prefix the user named is never seeded.
    const { result, ledger, runId } = await run({ job: getJob("wordcount"), input: { prefix }, seed: true });
    expect(result.status).toBe("SUCCEEDED");
    const summary = (result as { output: RunSummary }).output;
    expect(summary).toMatchObject({
      total_items: texts.length,
      succeeded_items: texts.length,
      failed_items: 0,
      failed_items_location: null,
      output: { input: `s3://${s3.bucket}/${prefix}`, objects: texts.length },
    });
    const counts = JSON.parse(await getText(`etl/outputs/wordcount/${runId}/counts.json`)) as Record<
      string,
      number
    >;
    expect(counts).toEqual(truth);
    expect(counts.über).toBe(3);
    expect(counts.naïve).toBe(1);
    expect(counts.l33t).toBe(1);

    expect(ledger).toMatchObject({
      job: "wordcount",
      run: runId,
      status: "SUCCEEDED",
      attempts: 1,
      total_items: texts.length,
      succeeded_items: texts.length,
      failed_items: 0,
    });
    expect(Number(ledger!.expires_at)).toBeGreaterThan(Date.now() / 1000 + 80 * 86_400);
    expect(Date.parse(ledger!.finished_at!)).toBeGreaterThanOrEqual(Date.parse(ledger!.started_at!));

    // What the ResultWriter left is in the documented shape.
    const runs = await readRunResults(s3.client, {
      bucket: s3.bucket,
      prefix: `etl/results/wordcount/${runId}/`,
    });
    expect(runs).toHaveLength(1);
    const manifest = JSON.parse(await getText(runs[0]!.manifest.key)) as ResultWriterManifest;
    // `<Prefix>/<map run id>/manifest.json`, the id being the last part of the MapRunArn (as on AWS).
    const mapRunId = manifest.MapRunArn.split(":").pop()!;
    expect(runs[0]!.manifest.key).toBe(`etl/results/wordcount/${runId}/${mapRunId}/manifest.json`);
    expect(summary.failed_items_location).toBeNull();
    expect(manifest.DestinationBucket).toBe(s3.bucket);
    expect(manifest.MapRunArn).toMatch(
      /^arn:aws:states:us-east-1:000000000000:mapRun:observatory-local-wordcount\/ProcessItems:/,
    );
    expect(manifest.ResultFiles.FAILED).toEqual([]);
    expect(manifest.ResultFiles.SUCCEEDED[0]!.Key).toMatch(/\/SUCCEEDED_0\.json$/);
    const records = runs[0]!.succeeded;
    expect(records).toHaveLength(Math.ceil(texts.length / 8)); // the job's MaxItemsPerBatch
    expect(records[0]).toMatchObject({
      Status: "SUCCEEDED",
      InputDetails: { Included: true },
      OutputDetails: { Included: true },
    });
    expect(JSON.parse(records[0]!.Input)).toMatchObject({
      BatchInput: { job: "wordcount", run_id: runId, input: { prefix } },
    });
  });

  it("retries items whose worker throws TransientError, then recovers them", async () => {
    const flaky = new Set(["item-003", "item-007", "item-011"]);
    const attempts = new Map<string, number>();
    const job = numbersJob("flaky", 20, async (items) => {
      for (const item of items) {
        attempts.set(item.id, (attempts.get(item.id) ?? 0) + 1);
        if (flaky.has(item.id) && attempts.get(item.id)! < 3)
          throw new TransientError(`throttled on ${item.id}`);
      }
    });
    const { result, ledger } = await run({ job });
    expect(result.status).toBe("SUCCEEDED");
    expect((result as { output: RunSummary }).output).toMatchObject({
      succeeded_items: 20,
      failed_items: 0,
      output: { sum: 190, batches: 20 },
    });
    for (const id of flaky) expect(attempts.get(id)).toBe(3);
    expect(attempts.get("item-000")).toBe(1);
    expect(ledger?.status).toBe("SUCCEEDED");
  });

  it("records failures within tolerance and still succeeds", async () => {
    const job = numbersJob(
      "tolerant",
      20,
      async (items) => {
        if (items.some((i) => i.id === "item-004")) throw new Error("corrupt input item-004");
      },
      { toleratedFailurePercentage: 10 },
    );
    const { result, ledger, runId } = await run({ job });
    expect(result.status).toBe("SUCCEEDED");
    const summary = (result as { output: RunSummary }).output;
    expect(summary).toMatchObject({
      total_items: 20,
      succeeded_items: 19,
      failed_items: 1,
      output: { sum: 190 - 4 },
    });
    expect(summary.failed_items_location).toMatch(
      new RegExp(`^s3://${s3.bucket}/etl/results/tolerant/${runId}/.+/manifest\\.json$`),
    );
    expect(ledger).toMatchObject({ status: "SUCCEEDED", succeeded_items: 19, failed_items: 1 });
    const [mapRun] = await readRunResults(s3.client, {
      bucket: s3.bucket,
      prefix: `etl/results/tolerant/${runId}/`,
    });
    expect(mapRun!.failed).toHaveLength(1);
    expect(mapRun!.failed[0]).toMatchObject({
      Status: "FAILED",
      Error: "Error",
      Cause: "corrupt input item-004",
    });
    expect(itemsOf(mapRun!.failed[0]!).map((i) => i.id)).toEqual(["item-004"]);
  });

  it("fails over tolerance with a clear Fail state, lists the failed items, and a re-run redoes only those", async () => {
    const broken = new Set(["item-001", "item-005", "item-009", "item-013", "item-017"]);
    let fixed = false;
    const calls = new Map<string, number>();
    const job = numbersJob(
      "resumable",
      20,
      async (items) => {
        for (const item of items)
          if (!fixed && broken.has(item.id)) throw new Error(`cannot parse ${item.id}`);
      },
      { toleratedFailurePercentage: 10, concurrency: 1 },
    );

    const first = await run({ job, runId: "run-1", wrap: { worker: countingWorker(calls) } });
    expect(first.result.status).toBe("FAILED");
    expect(first.result).toMatchObject({ error: "States.ExceedToleratedFailureThreshold" });
    expect((first.result as { cause: string }).cause).toMatch(/3 of 20 items failed \(tolerated: 10%\)/);
    expect(first.ledger).toMatchObject({
      status: "FAILED",
      error: "States.ExceedToleratedFailureThreshold",
      attempts: 1,
      planned_items: 20,
    });
    expect(first.ledger!.results_location).toBe(`s3://${s3.bucket}/etl/results/resumable/run-1/`);
    // With concurrency 1 the Map stops at the third failure (over 10% of 20): items after it never ran.
    const [failedRun] = await readRunResults(s3.client, {
      bucket: s3.bucket,
      prefix: "etl/results/resumable/run-1/",
    });
    expect(failedRun!.failed.flatMap((r) => itemsOf(r).map((i) => i.id))).toEqual([
      "item-001",
      "item-005",
      "item-009",
    ]);
    const doneFirst = failedRun!.succeeded.flatMap((r) => itemsOf(r).map((i) => i.id));
    expect(doneFirst).toHaveLength(7); // item-000, 002-004, 006-008
    const firstCalls = new Map(calls);

    fixed = true;
    calls.clear();
    const second = await run({ job, runId: "run-1", wrap: { worker: countingWorker(calls) } });
    expect(second.result.status).toBe("SUCCEEDED");
    // Nothing that succeeded in the first attempt ran again.
    for (const id of doneFirst) expect(calls.has(id)).toBe(false);
    expect(calls.size).toBe(13);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    expect((second.result as { output: RunSummary }).output).toMatchObject({
      total_items: 20,
      succeeded_items: 20,
      failed_items: 0,
      skipped_items: 7,
      output: { sum: 190 },
    });
    expect(second.ledger).toMatchObject({
      status: "SUCCEEDED",
      attempts: 2,
      skipped_items: 7,
      planned_items: 13,
      total_items: 20,
    });
    expect(firstCalls.size).toBe(10);

    calls.clear();
    const third = await run({ job, runId: "run-1", wrap: { worker: countingWorker(calls) } });
    expect(third.result.status).toBe("SUCCEEDED");
    expect(calls.size).toBe(0);
    expect(third.ledger).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
  });

  it("a planner failure ends in the ledger as FAILED with its error", async () => {
    const job: EtlJob = {
      ...numbersJob("bad-planner", 1, async () => {}),
      plan: async () => Promise.reject(new Error("input prefix is empty")),
    };
    const { result, ledger } = await run({ job, runId: "p-1" });
    expect(result).toMatchObject({ status: "FAILED", error: "Error", cause: "input prefix is empty" });
    expect(ledger).toMatchObject({ status: "FAILED", error: "Error", cause: "input prefix is empty" });
  });

  it("a run id that would nest S3 prefixes is refused by the planner, and the ledger says why", async () => {
    const { result, ledger } = await run({ job: numbersJob("run-ids", 2, async () => {}), runId: "a/b" });
    expect(result).toMatchObject({ status: "FAILED", error: "Error" });
    expect((result as { cause: string }).cause).toMatch(/run id "a\/b" must match/);
    expect(ledger?.status).toBe("FAILED");
  });

  it("MaxConcurrency is a real limit on workers in flight", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const job = numbersJob(
      "concurrency",
      24,
      async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 15));
        inFlight--;
      },
      { concurrency: 3 },
    );
    const { result } = await run({ job });
    expect(result.status).toBe("SUCCEEDED");
    expect(maxInFlight).toBe(3);
  });

  it("ItemBatcher respects max items and max bytes per child input", async () => {
    const sizes: number[] = [];
    const counts: number[] = [];
    const padded = (n: number) => ({ id: `p-${n}`, n, pad: "x".repeat(100 + (n % 7) * 30) });
    const job: EtlJob<EtlItem & { n: number }, JsonValue> = {
      spec: { name: "batching", concurrency: 2, batching: { maxItems: 6, maxBytes: 1200 } },
      plan: async () => Array.from({ length: 50 }, (_, n) => padded(n)),
      work: async (items) => items.length,
      finalize: async (results) => (results as number[]).reduce((a, b) => a + b, 0),
    };
    const wrap =
      (handler: LocalResource): LocalResource =>
      async (input) => {
        sizes.push(Buffer.byteLength(JSON.stringify(input)));
        counts.push((input as WorkerEvent).Items.length);
        return handler(input);
      };
    const { result } = await run({ job, wrap: { worker: wrap } });
    expect(result.status).toBe("SUCCEEDED");
    expect((result as { output: RunSummary }).output.output).toBe(50);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(50);
    expect(Math.max(...counts)).toBeLessThanOrEqual(6);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1200);
    // Bytes, not items, limit these batches: some batches stop short of 6 items.
    expect(counts.some((c) => c < 6)).toBe(true);
  });

  it("batchItems packs greedily and never exceeds either limit", () => {
    const items = Array.from({ length: 10 }, (_, n) => ({ id: String(n), v: "y".repeat(n * 10) }));
    const batches = batchItems(items, { MaxItemsPerBatch: 3, MaxInputBytesPerBatch: 200 }, { job: "j" });
    for (const b of batches) {
      expect(b.itemCount).toBeLessThanOrEqual(3);
      expect(Buffer.byteLength(JSON.stringify(b.input))).toBeLessThanOrEqual(200);
    }
    expect(batches.flatMap((b) => (b.input as { Items: { id: string }[] }).Items.map((i) => i.id))).toEqual(
      items.map((i) => i.id),
    );
    expect(() =>
      batchItems([{ id: "big", v: "z".repeat(500) }], { MaxInputBytesPerBatch: 100 }, undefined),
    ).toThrow(/does not fit/);
  });

  it("runs workers in worker threads: same results, TransientError still retried across the thread boundary", async () => {
    const { threadFlaky } = await import("./etl-thread-jobs.js");
    const { result } = await run({
      job: threadFlaky,
      workerThreads: 2,
      s3Endpoint: s3.endpoint,
      jobModules: [new URL("./etl-thread-jobs.ts", import.meta.url).href],
    });
    expect(result.status).toBe("SUCCEEDED");
    const output = (result as { output: RunSummary }).output;
    expect(output).toMatchObject({ succeeded_items: 12, failed_items: 0, output: { sum: 66 } });
    // Worker threads, not the main thread (threadId 0), did the work.
    const threads = (output.output as { threads: number[] }).threads;
    expect(threads.every((t) => t > 0)).toBe(true);
    // MaxConcurrency 4 over a pool of 2: both threads took work.
    expect(threads).toHaveLength(2);
  });

  it("runs an inline-mode job from the same definition builder", async () => {
    const job = numbersJob("inline-job", 9, async () => {}, { mode: "inline", batching: {} });
    const { result, ledger } = await run({ job });
    expect(result.status).toBe("SUCCEEDED");
    expect((result as { output: RunSummary }).output).toMatchObject({
      total_items: 9,
      succeeded_items: 9,
      output: { sum: 36, batches: 9 },
    });
    expect(ledger?.status).toBe("SUCCEEDED");
  });
});

describe("wordcount input: the demo corpus only for the default prefix", () => {
  it("an empty prefix the user named fails the planner clearly and writes nothing", async () => {
    const prefix = "etl/inputs/talks/";
    const before = await allKeys();
    const { result, ledger } = await run({ job: getJob("wordcount"), input: { prefix }, seed: true });
    expect(result).toMatchObject({ status: "FAILED", error: "NoInputObjects" });
    const cause = (result as { cause: string }).cause;
    expect(cause).toMatch(
      new RegExp(`^no objects under s3://${s3.bucket}/etl/inputs/talks/: upload your text files there first`),
    );
    // How to, against the endpoint this run used, with credentials the AWS CLI can sign with.
    expect(cause).toContain(
      `AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER aws --endpoint-url ${s3.endpoint} s3 cp ./texts/ s3://${s3.bucket}/${prefix} --recursive`,
    );
    expect(ledger).toMatchObject({ status: "FAILED", error: "NoInputObjects", cause });
    // Nothing seeded, no manifest, no results, no counts.
    expect(await allKeys()).toEqual(before);
  });

  it("the default prefix is seeded with the demo corpus on a fresh store and counted", async () => {
    expect((await allKeys()).filter((k) => k.startsWith(DEFAULT_INPUT_PREFIX))).toEqual([]);
    const { result, runId } = await run({ job: getJob("wordcount"), seed: true });
    expect(result.status).toBe("SUCCEEDED");
    const seeded = (await allKeys()).filter((k) => k.startsWith(DEFAULT_INPUT_PREFIX));
    expect(seeded).toHaveLength(DEMO_DOCUMENT_COUNT);
    const truth: Record<string, number> = {};
    for (let n = 0; n < DEMO_DOCUMENT_COUNT; n++) countWords(demoDocument(n), truth);
    const output = (result as { output: RunSummary }).output.output as Record<string, unknown>;
    expect(output).toMatchObject({
      input: `s3://${s3.bucket}/${DEFAULT_INPUT_PREFIX}`,
      objects: DEMO_DOCUMENT_COUNT,
      distinct_words: Object.keys(truth).length,
    });
    expect(JSON.parse(await getText(`etl/outputs/wordcount/${runId}/counts.json`))).toEqual(truth);
  });

  it("on AWS (no custom endpoint) an empty prefix says to upload with plain aws s3 cp", async () => {
    const client = new S3Client({ region: "us-east-1" });
    const mock = mockClient(client);
    mock.on(ListObjectsV2Command).resolves({ KeyCount: 0, IsTruncated: false });
    try {
      await expect(
        wordcount.plan({ s3: client, bucket: "team-etl", job: "wordcount", run_id: "r1", input: {} }),
      ).rejects.toThrow(
        "no objects under s3://team-etl/etl/inputs/wordcount/: upload your text files there first, e.g. with the AWS CLI: aws s3 cp ./texts/ s3://team-etl/etl/inputs/wordcount/ --recursive",
      );
    } finally {
      mock.restore();
    }
  });
});
