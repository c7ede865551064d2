// The Tracker's queue on its own: batching rules, bounds, FIFO order of sealed batches, and the request
// body each batch writes as its events arrive.
import { describe, expect, it } from "vitest";
import { BatchQueue, type SealedBatch } from "../runtime/batch-queue.js";
import { BATCH_ENVELOPE_BYTES } from "../runtime/tracker-options.js";

const limits = { flushAt: 3, maxBatchBytes: 1_000, maxQueueSize: 100, maxQueueBytes: 100_000 };
const SENT_AT = "2026-01-01T00:00:00.000Z";

/** The events of a batch whose events are JSON values, read back from its request body. */
function eventsOf(batch: SealedBatch | undefined): unknown[] | undefined {
  if (batch === undefined) return undefined;
  const body = JSON.parse(batch.body(SENT_AT).toString("utf8")) as { batch: unknown[]; sent_at: string };
  expect(body.sent_at).toBe(SENT_AT);
  return body.batch;
}

describe("BatchQueue", () => {
  it("seals a batch at flushAt and keeps track() order inside it", () => {
    const queue = new BatchQueue(limits);
    for (const json of ['"a"', '"b"', '"c"', '"d"']) queue.add(json, "");
    expect(queue.readyCount).toBe(1);
    expect(eventsOf(queue.takeReady())).toEqual(["a", "b", "c"]);
    expect(queue.queuedEvents).toBe(1);
    queue.sealAll();
    expect(eventsOf(queue.takeReady())).toEqual(["d"]);
    expect(queue.takeReady()).toBeUndefined();
    expect([queue.queuedEvents, queue.queuedBytes]).toEqual([0, 0]);
  });

  it("never lets a batch's body exceed maxBatchBytes", () => {
    const queue = new BatchQueue({ ...limits, flushAt: 1_000 });
    const event = JSON.stringify("x".repeat(298));
    for (let i = 0; i < 10; i++) queue.add(event, "");
    queue.sealAll();
    let batch = queue.takeReady();
    let total = 0;
    while (batch !== undefined) {
      const body = batch.body(SENT_AT);
      expect(body.length).toBeLessThanOrEqual(limits.maxBatchBytes);
      expect(body.length).toBe(BATCH_ENVELOPE_BYTES + batch.bytes);
      total += batch.count;
      expect(eventsOf(batch)).toEqual(Array(batch.count).fill("x".repeat(298)));
      batch = queue.takeReady();
    }
    expect(total).toBe(10);
  });

  it("ends each body with the batch context, counted in the byte limit", () => {
    const context = JSON.stringify({ library: { name: "t", version: "1" }, service: "gallery" });
    const queue = new BatchQueue({ ...limits, flushAt: 1_000 }, context);
    const event = JSON.stringify("x".repeat(298));
    for (let i = 0; i < 10; i++) queue.add(event, "");
    queue.sealAll();
    const contextBytes = `,"context":${context}`.length;
    let total = 0;
    for (let batch = queue.takeReady(); batch !== undefined; batch = queue.takeReady()) {
      const body = batch.body(SENT_AT);
      expect(body.length).toBeLessThanOrEqual(limits.maxBatchBytes);
      expect(body.length).toBe(BATCH_ENVELOPE_BYTES + contextBytes + batch.bytes);
      const parsed = JSON.parse(body.toString("utf8"));
      expect(parsed).toEqual({
        batch: Array(batch.count).fill("x".repeat(298)),
        sent_at: SENT_AT,
        context: JSON.parse(context),
      });
      total += batch.count;
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
      queue.add(json, id);
    queue.sealAll();
    queue.add("4", "c");
    queue.add("5", "c");
    queue.sealAll();
    queue.add("6", "c");
    queue.add("7", "");
    queue.sealAll();
    expect([1, 2, 3].map(() => queue.takeReady()).map((b) => [b?.correlationId, eventsOf(b)])).toEqual([
      ["", [1, 2, 3]],
      ["c", [4, 5]],
      ["", [6, 7]],
    ]);
  });

  it("refuses the newest event when full, by count or by bytes, and changes nothing", () => {
    const byCount = new BatchQueue({ ...limits, flushAt: 1, maxQueueSize: 2 });
    expect([byCount.add("1", ""), byCount.add("2", ""), byCount.add("3", "")]).toEqual([true, true, false]);
    expect(byCount.queuedEvents).toBe(2);
    const byBytes = new BatchQueue({ ...limits, maxQueueBytes: 10 });
    expect([byBytes.add("111111", ""), byBytes.add("222222", ""), byBytes.add("3333", "")]).toEqual([
      true,
      false,
      true,
    ]);
    expect(byBytes.queuedBytes).toBe(10);
    byBytes.sealAll();
    // The refused event was measured by writing it after the first one; the body does not hold it.
    expect(eventsOf(byBytes.takeReady())).toEqual([111111, 3333]);
  });

  it("counts UTF-8 bytes, not string length, and writes multi-byte text intact", () => {
    const queue = new BatchQueue({ ...limits, flushAt: 10 });
    const texts = ["é", "日本語", "🙂 emoji", "plain", "\u2028"];
    for (const text of texts) expect(queue.add(JSON.stringify(text), "")).toBe(true);
    const expectedBytes = texts.reduce((sum, t) => sum + Buffer.byteLength(JSON.stringify(t)), 0);
    expect(queue.queuedBytes).toBe(expectedBytes);
    queue.sealAll();
    const batch = queue.takeReady()!;
    expect(batch.bytes).toBe(expectedBytes + texts.length - 1);
    expect(eventsOf(batch)).toEqual(texts);
  });

  it("grows a batch's buffer past its first size without losing or reordering events", () => {
    const queue = new BatchQueue({
      flushAt: 5_000,
      maxBatchBytes: 480 * 1024,
      maxQueueSize: 10_000,
      maxQueueBytes: 1e8,
    });
    const events = Array.from({ length: 3_000 }, (_, i) => ({
      i,
      text: `événement ${i} ${"z".repeat(i % 97)}`,
    }));
    for (const event of events) queue.add(JSON.stringify(event), "");
    queue.sealAll();
    const read: unknown[] = [];
    for (let batch = queue.takeReady(); batch !== undefined; batch = queue.takeReady()) {
      expect(batch.body(SENT_AT).length).toBeLessThanOrEqual(480 * 1024);
      read.push(...eventsOf(batch)!);
    }
    expect(read).toEqual(events);
  });

  it("moves an event that does not fit to the next batch even when it was first written into the full one", () => {
    // Each event is 100 bytes: the 9th would make the body 9 * 101 - 1 + envelope > 950.
    const queue = new BatchQueue({ ...limits, flushAt: 100, maxBatchBytes: 950 });
    const event = (i: number) => JSON.stringify(`${i}`.padEnd(98, "."));
    for (let i = 0; i < 12; i++) queue.add(event(i), "");
    queue.sealAll();
    const first = queue.takeReady()!;
    const second = queue.takeReady()!;
    expect(first.count + second.count).toBe(12);
    expect(first.body(SENT_AT).length).toBeLessThanOrEqual(950);
    expect([...eventsOf(first)!, ...eventsOf(second)!]).toEqual(
      Array.from({ length: 12 }, (_, i) => JSON.parse(event(i))),
    );
  });

  it("gives a retried batch the same events under a new sent_at", () => {
    const queue = new BatchQueue(limits);
    queue.add('{"n":1}', "");
    queue.add('{"n":2}', "");
    queue.sealAll();
    const batch = queue.takeReady()!;
    const first = batch.body("2026-01-01T00:00:00.000Z").toString();
    const retry = batch.body("2026-01-01T00:00:01.500Z").toString();
    expect(JSON.parse(first)).toEqual({ batch: [{ n: 1 }, { n: 2 }], sent_at: "2026-01-01T00:00:00.000Z" });
    expect(JSON.parse(retry)).toEqual({ batch: [{ n: 1 }, { n: 2 }], sent_at: "2026-01-01T00:00:01.500Z" });
    expect(batch.eventsText()).toBe('{"n":1},{"n":2}');
  });

  it("stays FIFO across the compaction of its head when the queue never drains", () => {
    const queue = new BatchQueue({ ...limits, flushAt: 1, maxQueueSize: 10_000 });
    let next = 0;
    let taken = 0;
    for (let i = 0; i < 5_000; i++) {
      queue.add(String(next++), "");
      queue.add(String(next++), "");
      expect(queue.takeReady()?.eventsText()).toBe(String(taken++));
    }
    expect(queue.readyCount).toBe(5_000);
    expect(queue.pending()[0]?.eventsText()).toBe(String(taken));
  });
});
