// The generic finalizer an EtlFleet deploys when a job brings none, run against a local S3 (s3rver)
// holding what a Distributed Map's ResultWriter writes (manifest.json + SUCCEEDED_n/FAILED_n.json).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FinalizerEvent, MapChildResult, ResultWriterManifest } from "../etl/contracts.js";
import { finalizerHandler } from "../etl/handlers.js";
import { countsOnlyJob } from "../functions/etl-finalizer/counts-only.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";

const MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:chars-state-machine-1a2b3c";
const MAP_RUN =
  "arn:aws:states:us-east-1:123456789012:mapRun:chars-state-machine-1a2b3c/ProcessItems:7f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";

function child(n: number, ids: string[], status: "SUCCEEDED" | "FAILED"): MapChildResult {
  const input = {
    Items: ids.map((id) => ({ id, text: `doc ${id}` })),
    BatchInput: { job: "chars", run_id: "r1", input: {} },
  };
  return {
    ExecutionArn: `arn:aws:states:us-east-1:123456789012:express:chars-state-machine-1a2b3c/ProcessItems:7f1e2d3c:${n}`,
    Input: JSON.stringify(input),
    InputDetails: { Included: true },
    ...(status === "SUCCEEDED"
      ? { Output: JSON.stringify({ chars: ids.length * 5 }), OutputDetails: { Included: true } }
      : { Error: "Error", Cause: '{"errorMessage":"boom","errorType":"Error"}' }),
    Status: status,
    StartDate: "2026-11-22T15:00:02.000Z",
    StopDate: "2026-11-22T15:00:03.000Z",
    StateMachineArn: MACHINE,
  };
}

describe("generic EtlFleet finalizer", () => {
  let dir: string;
  let s3: LocalS3;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-fleet-finalizer-"));
    s3 = await startLocalS3({ directory: dir, port: 0 });
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("summarizes the Map's results: counts, and where the failed items are", async () => {
    const prefix = "etl/results/chars/r1/7f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b/";
    const put = (key: string, body: unknown) =>
      s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: JSON.stringify(body) }));
    const succeeded = [child(0, ["a", "b"], "SUCCEEDED"), child(1, ["c", "d"], "SUCCEEDED")];
    const failed = [child(2, ["e"], "FAILED")];
    await put(`${prefix}SUCCEEDED_0.json`, succeeded);
    await put(`${prefix}FAILED_0.json`, failed);
    const manifest: ResultWriterManifest = {
      DestinationBucket: s3.bucket,
      MapRunArn: MAP_RUN,
      ResultFiles: {
        FAILED: [{ Key: `${prefix}FAILED_0.json`, Size: 600 }],
        PENDING: [],
        SUCCEEDED: [{ Key: `${prefix}SUCCEEDED_0.json`, Size: 1200 }],
      },
    };
    await put(`${prefix}manifest.json`, manifest);

    const finalize = finalizerHandler(countsOnlyJob("chars"), () => s3.client);
    const event: FinalizerEvent = {
      job: "chars",
      run_id: "r1",
      input: {},
      plan: {
        manifest: { bucket: s3.bucket, key: "etl/manifests/chars/r1/manifest-1.jsonl" },
        item_count: 5,
        skipped_count: 0,
        expires_at: 1_800_000_000,
      },
      map: { MapRunArn: MAP_RUN, ResultWriterDetails: { Bucket: s3.bucket, Key: `${prefix}manifest.json` } },
      results_location: { bucket: s3.bucket, prefix: "etl/results/chars/r1/" },
    };
    expect(await finalize(event)).toEqual({
      total_items: 5,
      succeeded_items: 4,
      failed_items: 1,
      skipped_items: 0,
      failed_items_location: `s3://${s3.bucket}/${prefix}manifest.json`,
      output: { result_batches: 2 },
    });
  });

  it("says so when asked to plan or work", async () => {
    const job = countsOnlyJob("chars");
    await expect(job.work([], { s3: s3.client, job: "chars", run_id: "r1", input: {} })).rejects.toThrow(
      /no worker.*give the EtlFleet a worker handler/,
    );
  });
});
