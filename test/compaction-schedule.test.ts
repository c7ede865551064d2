import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compactionSchedule, parseDuration } from "../local/compaction-schedule.js";
import { startLocalStack } from "../local/stack.js";
import { putRawObject, queryTable, rawEvent } from "./compaction-fixtures.js";

describe("--compact-every", () => {
  it("parses 30s, 5m, 1h, 1h30m and off; refuses nonsense and too short", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("off")).toBeUndefined();
    expect(parseDuration("0")).toBeUndefined();
    expect(() => parseDuration("3x")).toThrow(/not a duration/);
    expect(() => parseDuration("1h 5")).toThrow(/not a duration/);
    expect(() => parseDuration("5s")).toThrow(/at least 10s/);
  });

  it("compacts what arrives while `observatory dev` runs, and stops cleanly", async () => {
    const dir = await mkdtemp(join(tmpdir(), "obs-compact-every-"));
    const stack = await startLocalStack({
      dataDir: dir,
      s3Port: 0,
      collectorPort: 0,
      dynamoPort: 0,
      quiet: true,
      extras: [compactionSchedule({ everyMs: 500 })],
    });
    try {
      expect(stack.extras.map((e) => e.handle.describe)).toEqual([
        ["every 0.5s (on demand: observatory etl start compaction --local)"],
      ]);
      const now = new Date();
      await putRawObject(stack.s3.client, stack.bucket, now, [
        rawEvent({ event_id: "scheduled-1", event: "page_viewed", event_time: now.toISOString() }),
      ]);
      let rows: Record<string, unknown>[] = [];
      for (let i = 0; i < 60 && rows.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        rows = await queryTable(stack.s3.client, stack.bucket, "events", "SELECT event_id FROM events");
      }
      expect(rows).toEqual([{ event_id: "scheduled-1" }]);
    } finally {
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
