// The Tracker's queue on its own: batching rules, bounds, FIFO order of sealed batches.
import { describe, expect, it } from "vitest";
import { BatchQueue } from "../runtime/batch-queue.js";
import { BATCH_ENVELOPE_BYTES } from "../runtime/tracker-options.js";

const limits = { flushAt: 3, maxBatchBytes: 1_000, maxQueueSize: 100, maxQueueBytes: 100_000 };

describe("BatchQueue", () => {
  it("seals a batch at flushAt and keeps track() order inside it", () => {
    const queue = new BatchQueue(limits);
    for (const json of ["a", "b", "c", "d"]) queue.add(json, 1, "");
    expect(queue.readyCount).toBe(1);
    expect(queue.takeReady()?.events).toEqual(["a", "b", "c"]);
    expect(queue.queuedEvents).toBe(1);
    queue.sealAll();
    expect(queue.takeReady()?.events).toEqual(["d"]);
    expect(queue.takeReady()).toBeUndefined();
    expect([queue.queuedEvents, queue.queuedBytes]).toEqual([0, 0]);
  });

  it("never lets a batch's body exceed maxBatchBytes", () => {
    const queue = new BatchQueue({ ...limits, flushAt: 1_000 });
    const event = "x".repeat(300);
    for (let i = 0; i < 10; i++) queue.add(event, event.length, "");
    queue.sealAll();
    let batch = queue.takeReady();
    let total = 0;
    while (batch !== undefined) {
      const body = `{"batch":[${batch.events.join(",")}],"sent_at":"2026-01-01T00:00:00.000Z"}`;
      expect(body.length).toBeLessThanOrEqual(limits.maxBatchBytes);
      expect(body.length).toBe(BATCH_ENVELOPE_BYTES + batch.bytes);
      total += batch.events.length;
      batch = queue.takeReady();
    }
    expect(total).toBe(10);
  });

  it("mixes correlation IDs in one batch; the batch names an ID only when every event shares it", () => {
    const queue = new BatchQueue({ ...limits, flushAt: 10 });
    for (const [json, id] of [
      ["1", "a"],
      ["2", "b"],
      ["3", "a"],
    ] as const)
      queue.add(json, 1, id);
    queue.sealAll();
    queue.add("4", 1, "c");
    queue.add("5", 1, "c");
    queue.sealAll();
    queue.add("6", 1, "c");
    queue.add("7", 1, "");
    queue.sealAll();
    expect([1, 2, 3].map(() => queue.takeReady()).map((b) => [b?.correlationId, b?.events])).toEqual([
      ["", ["1", "2", "3"]],
      ["c", ["4", "5"]],
      ["", ["6", "7"]],
    ]);
  });

  it("refuses the newest event when full, by count or by bytes, and changes nothing", () => {
    const byCount = new BatchQueue({ ...limits, flushAt: 1, maxQueueSize: 2 });
    expect([byCount.add("a", 1, ""), byCount.add("b", 1, ""), byCount.add("c", 1, "")]).toEqual([
      true,
      true,
      false,
    ]);
    expect(byCount.queuedEvents).toBe(2);
    const byBytes = new BatchQueue({ ...limits, maxQueueBytes: 10 });
    expect([byBytes.add("aaaaaa", 6, ""), byBytes.add("bbbbbb", 6, ""), byBytes.add("cccc", 4, "")]).toEqual([
      true,
      false,
      true,
    ]);
    expect(byBytes.queuedBytes).toBe(10);
  });

  it("stays FIFO across the compaction of its head when the queue never drains", () => {
    const queue = new BatchQueue({ ...limits, flushAt: 1, maxQueueSize: 10_000 });
    let next = 0;
    let taken = 0;
    for (let i = 0; i < 5_000; i++) {
      queue.add(String(next++), 1, "");
      queue.add(String(next++), 1, "");
      expect(queue.takeReady()?.events).toEqual([String(taken++)]);
    }
    expect(queue.readyCount).toBe(5_000);
    expect(queue.pending()[0]?.events).toEqual([String(taken)]);
  });
});
