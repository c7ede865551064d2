// A job registered for worker-thread tests: each thread imports this module and looks the job up by name.
// Its worker fails once per item with TransientError (remembered in S3, which every thread shares),
// then succeeds: the retry must see the error's name across the thread boundary.
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { EtlItem } from "../etl/contracts.js";
import { defineJob } from "../etl/jobs.js";
import { TransientError } from "../etl/transient-error.js";

export const THREAD_FLAKY_JOB = "thread-flaky";

export const threadFlaky = defineJob<
  EtlItem & { bucket: string; n: number },
  { sum: number; thread: number }
>({
  spec: { name: THREAD_FLAKY_JOB, concurrency: 4, batching: { maxItems: 1 } },
  async plan({ bucket }) {
    return Array.from({ length: 12 }, (_, n) => ({ id: `t-${n}`, bucket, n }));
  },
  async work(items, { s3, run_id }) {
    const { threadId } = await import("node:worker_threads");
    for (const item of items) {
      const marker = { Bucket: item.bucket, Key: `test-markers/${run_id}/${item.id}` };
      const seen = await s3.send(new HeadObjectCommand(marker)).then(
        () => true,
        () => false,
      );
      if (!seen) {
        await s3.send(new PutObjectCommand({ ...marker, Body: "1" }));
        throw new TransientError(`first attempt of ${item.id} fails`);
      }
    }
    return { sum: items.reduce((s, i) => s + i.n, 0), thread: threadId };
  },
  async finalize(results) {
    return {
      sum: results.reduce((s, r) => s + r.sum, 0),
      threads: [...new Set(results.map((r) => r.thread))].sort(),
    };
  },
});
