import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type DemoStep, reportLandedStep, runDemo, sendTrafficStep } from "../cli/commands/demo.js";
import type { QuarantineRecord, RawEventRecord } from "../contracts/event-record.js";
import { badDemoTraffic } from "../local/demo-traffic.js";
import { startLocalStack } from "../local/stack.js";

describe("observatory demo", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-demo-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const options = (
    dataDir: string,
    endpoint = "http://127.0.0.1:0",
    s3Endpoint = "http://127.0.0.1:0",
    dynamodbEndpoint = "http://127.0.0.1:0",
  ) => ({
    events: 150,
    seed: 3,
    endpoint,
    s3Endpoint,
    dynamodbEndpoint,
    apiKey: "local-dev-key",
    dataDir,
    format: "json" as const,
  });

  it("starts its own stack when none runs, and reports every event once and every bad one in quarantine", async () => {
    const printed: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((text = "") => void printed.push(String(text)));
    const extraRan: string[] = [];
    const extra: DemoStep = {
      title: "appended step",
      run: async (c) =>
        void extraRan.push(
          `${(c.results.raw as unknown[]).length} ${c.dynamodbEndpoint === c.stack?.dynamodb.endpoint}`,
        ),
    };
    try {
      const context = await runDemo(options(join(dir, "own")), [sendTrafficStep, reportLandedStep, extra]);
      const raw = context.results.raw as RawEventRecord[];
      const quarantined = context.results.quarantined as QuarantineRecord[];
      expect(raw).toHaveLength(150);
      expect(new Set(raw.map((r) => r.event_id)).size).toBe(150);
      expect(raw.every((r) => r.service === "demo-image-site" && r.stage === "local")).toBe(true);
      // The Tracker's bad events, each with a reason, plus the hand-sent broken body.
      expect(quarantined).toHaveLength(badDemoTraffic().length + 1);
      expect(quarantined.filter((q) => q.status === 400 && q.index === null)).toHaveLength(1);
      expect(extraRan).toEqual(["150 true"]);
      expect(printed.join("\n")).toContain("starting the local stack in this process");
      expect(printed.join("\n")).toMatch(/150 events, 150 distinct event_ids/);
    } finally {
      log.mockRestore();
    }
  });

  it("uses a running stack when one answers, and counts only this run's objects", async () => {
    const stack = await startLocalStack({
      dataDir: join(dir, "running"),
      s3Port: 0,
      collectorPort: 0,
      dynamoPort: 0,
      quiet: true,
    });
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      const ingest = [sendTrafficStep, reportLandedStep];
      const running = options("unused", stack.collector.url, stack.s3.endpoint, stack.dynamodb.endpoint);
      await runDemo(running, ingest);
      const second = await runDemo(running, ingest);
      expect((second.results.raw as unknown[]).length).toBe(150);
      expect(second.stack).toBeUndefined();
      expect(second.dynamodbEndpoint).toBe(stack.dynamodb.endpoint);
    } finally {
      log.mockRestore();
      await stack.close();
    }
  });
});
