import { describe, expect, it } from "vitest";
import { planChunks } from "../functions/compaction/plan.js";
import { commitState, consumedSet, EMPTY_STATE, listStartAfter } from "../functions/compaction/state.js";
import { withTransientS3Errors } from "../functions/compaction/transient.js";

const key = (hour: string, name: string) => `raw/dt=2026-11-22/hour=${hour}/${name}.ndjson.gz`;

describe("compaction state: what is consumed", () => {
  it("closes hours that ended HOUR_SETTLE_MS before planning, keeps later ones listed key by key", () => {
    const state = commitState(EMPTY_STATE, {
      runId: "r1",
      plannedAt: new Date("2026-11-22T15:10:00Z"), // 15:10 - 15 min = 14:55 -> hour 14 still open
      consumedKeys: [key("13", "a"), key("14", "b"), key("15", "c")],
      unconsumedKeys: [],
      committedAt: new Date("2026-11-22T15:11:00Z"),
    });
    expect(state.open_from_hour).toBe("2026-11-22T14");
    expect(state.consumed).toEqual({
      "raw/dt=2026-11-22/hour=14/": ["b.ndjson.gz"],
      "raw/dt=2026-11-22/hour=15/": ["c.ndjson.gz"],
    });
    const consumed = consumedSet(state);
    expect(
      [key("12", "old"), key("13", "a"), key("14", "b"), key("14", "late"), key("15", "c")].map(consumed),
    ).toEqual([true, true, true, false, true]);
    expect(listStartAfter("raw/", state)).toBe("raw/dt=2026-11-22/hour=14/");
    expect(listStartAfter("raw/", EMPTY_STATE)).toBeUndefined();
  });

  it("keeps the hour of a failed chunk open and never reopens a closed hour", () => {
    const first = commitState(EMPTY_STATE, {
      runId: "r1",
      plannedAt: new Date("2026-11-22T18:00:00Z"),
      consumedKeys: [key("16", "a")],
      unconsumedKeys: [key("15", "failed")],
      committedAt: new Date("2026-11-22T18:01:00Z"),
    });
    expect(first.open_from_hour).toBe("2026-11-22T15");
    expect(consumedSet(first)(key("15", "failed"))).toBe(false);
    const second = commitState(first, {
      runId: "r2",
      plannedAt: new Date("2026-11-22T19:00:00Z"),
      consumedKeys: [key("15", "failed")],
      unconsumedKeys: [],
      committedAt: new Date("2026-11-22T19:01:00Z"),
    });
    expect(second.open_from_hour).toBe("2026-11-22T18");
    expect(second.consumed).toEqual({});
    // A clock running behind must not move the boundary back (closed hours' key lists are gone).
    const third = commitState(second, {
      runId: "r3",
      plannedAt: new Date("2026-11-22T10:00:00Z"),
      consumedKeys: [],
      unconsumedKeys: [],
      committedAt: new Date(),
    });
    expect(third.open_from_hour).toBe("2026-11-22T18");
  });
});

describe("planChunks", () => {
  const object = (k: string, size: number) => ({ kind: "events" as const, object: { key: k, size } });
  it("groups by count and bytes in key order, an oversize object alone, kinds apart", () => {
    const chunks = planChunks(
      [
        object("raw/c", 10),
        object("raw/a", 10),
        object("raw/b", 10),
        object("raw/d", 500),
        object("raw/e", 1),
        { kind: "quarantine", object: { key: "quarantine/x", size: 1 } },
      ],
      "bucket",
      { maxObjects: 2, maxBytes: 100 },
    );
    expect(chunks.map((c) => [c.id, c.kind, c.keys, c.bytes])).toEqual([
      ["chunk-00000", "events", ["raw/a", "raw/b"], 20],
      ["chunk-00001", "events", ["raw/c"], 10],
      ["chunk-00002", "events", ["raw/d"], 500],
      ["chunk-00003", "events", ["raw/e"], 1],
      ["chunk-00004", "quarantine", ["quarantine/x"], 1],
    ]);
    expect(chunks.every((c) => c.bucket === "bucket")).toBe(true);
  });
});

describe("worker errors", () => {
  const fail = (error: unknown) => () => Promise.reject(error);
  it("turns S3 throttling, 5xx and network errors into TransientError (retried by the Map), nothing else", async () => {
    const slowDown = Object.assign(new Error("Please reduce your request rate."), {
      name: "SlowDown",
      $metadata: { httpStatusCode: 503 },
    });
    const internal = Object.assign(new Error("We encountered an internal error."), {
      name: "InternalError",
      $metadata: { httpStatusCode: 500 },
    });
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    for (const error of [slowDown, internal, reset]) {
      await expect(withTransientS3Errors(fail(error))).rejects.toMatchObject({ name: "TransientError" });
    }
    const missing = Object.assign(new Error("The specified key does not exist."), {
      name: "NoSuchKey",
      $metadata: { httpStatusCode: 404 },
    });
    await expect(withTransientS3Errors(fail(missing))).rejects.toBe(missing);
    const badData = new Error("Invalid Input Error: Malformed JSON");
    await expect(withTransientS3Errors(fail(badData))).rejects.toBe(badData);
    await expect(withTransientS3Errors(async () => 42)).resolves.toBe(42);
  });
});
