import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type DemoOptions,
  type DemoStep,
  failOnDropped,
  reportLandedStep,
  runDemo,
  sendTrafficStep,
} from "../cli/commands/demo.js";
import type { QuarantineRecord, RawEventRecord } from "../contracts/event-record.js";
import { listRuns } from "../etl/ledger.js";
import { badDemoTraffic } from "../local/demo-traffic.js";
import { logsStackExtra } from "../local/log-dev-extension.js";
import { startLocalStack } from "../local/stack.js";
import { LOCAL_LEDGER_TABLE } from "../local/step-functions/local-etl.js";
import { spawnObservatory } from "./support/cli-process.js";

/** The parts of `demo --format json` these tests read. */
interface DemoReport {
  tracker: { accepted: number };
  raw: { events: number; by_event: { image_bytes_total: unknown }[] };
  quarantine: { items: { reasons: unknown }[] };
  compaction: { status: string; run_id: string };
  trace: { correlation_id: string; rows: { service: string | null }[] };
}

describe("observatory demo", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-demo-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const options = (dataDir: string, more: Partial<DemoOptions> = {}): DemoOptions => ({
    events: 150,
    seed: 3,
    dataDir,
    format: "table",
    ...more,
  });

  /** Runs the demo with console.log and stderr captured. */
  async function captured<T>(
    run: () => Promise<T>,
  ): Promise<{ result: T; stdout: string[]; stderr: string }> {
    const stdout: string[] = [];
    let stderr = "";
    const log = vi.spyOn(console, "log").mockImplementation((text = "") => void stdout.push(String(text)));
    const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    try {
      return { result: await run(), stdout, stderr };
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  }

  it("starts its own stack when none runs, and reports every event once and every bad one in quarantine", async () => {
    const extraRan: string[] = [];
    const extra: DemoStep = {
      title: "appended step",
      run: async (c) =>
        void extraRan.push(
          `${(c.results.raw as unknown[]).length} ${c.dynamodbEndpoint === c.stack?.dynamodb.endpoint}`,
        ),
    };
    const { result: context, stdout } = await captured(() =>
      runDemo(options(join(dir, "own")), [sendTrafficStep, reportLandedStep, extra]),
    );
    const raw = context.results.raw as RawEventRecord[];
    const quarantined = context.results.quarantined as QuarantineRecord[];
    expect(raw).toHaveLength(150);
    expect(new Set(raw.map((r) => r.event_id)).size).toBe(150);
    expect(raw.every((r) => r.service === "demo-image-site" && r.stage === "local")).toBe(true);
    // The Tracker's bad events, each with a reason, plus the hand-sent broken body.
    expect(quarantined).toHaveLength(badDemoTraffic().length + 1);
    expect(quarantined.filter((q) => q.status === 400 && q.index === null)).toHaveLength(1);
    expect(extraRan).toEqual(["150 true"]);
    expect(stdout.join("\n")).toContain("starting one in this process");
    expect(stdout.join("\n")).toMatch(/150 events, 150 distinct event_ids/);
  });

  it("applies back pressure: more events than the Tracker's queue holds all land, bad ones in quarantine", async () => {
    // 300 events into a queue of 40: enqueued in one loop without waiting, 260 were dropped (F21).
    const { result: context } = await captured(() =>
      runDemo(options(join(dir, "bounded"), { events: 300, maxQueueSize: 40 }), [
        sendTrafficStep,
        reportLandedStep,
      ]),
    );
    const raw = context.results.raw as RawEventRecord[];
    expect(raw).toHaveLength(300);
    expect(context.results.quarantined as QuarantineRecord[]).toHaveLength(badDemoTraffic().length + 1);
    const stats = context.results.trackerStats as { dropped: Record<string, number> };
    expect(Object.values(stats.dropped).every((n) => n === 0)).toBe(true);
  });

  it("fails when the Tracker dropped anything, saying how many and why", () => {
    const stats = {
      requests: 1,
      accepted: 9998,
      rejected: 0,
      retries: 0,
      enqueued: 10000,
      queued: 0,
      dropped: { queue_full: 2008, closed: 0 },
    };
    expect(() => failOnDropped(stats as unknown as Parameters<typeof failOnDropped>[0])).toThrow(
      /the Tracker dropped 2008 events \(queue_full: 2008\)/,
    );
  });

  it("finds a running stack on other ports through --data-dir alone: its key, S3 and DynamoDB (compaction ledger), trace with the collector hop, one JSON document", async () => {
    const dataDir = join(dir, "running");
    const stack = await startLocalStack({
      dataDir,
      apiKey: "s3cret",
      s3Port: 0,
      collectorPort: 0,
      dynamoPort: 0,
      quiet: true,
      extras: [logsStackExtra({ ports: { storefront: 0, search: 0, images: 0 } })],
    });
    try {
      const {
        result: context,
        stdout,
        stderr,
      } = await captured(() => runDemo(options(dataDir, { format: "json" })));
      expect(context.stack).toBeUndefined();
      expect(context.endpoint).toBe(stack.collector.url);
      expect(context.dynamodbEndpoint).toBe(stack.dynamodb.endpoint);
      expect(stderr).toContain("== 1. Send traffic");
      // stdout: exactly one parseable JSON document.
      expect(stdout).toHaveLength(1);
      const report = JSON.parse(stdout[0]!) as DemoReport;
      expect(Object.keys(report)).toEqual([
        "stack",
        "tracker",
        "raw",
        "quarantine",
        "compaction",
        "named_queries",
        "trace",
      ]);
      expect(report.tracker.accepted).toBe(150);
      expect(report.raw.events).toBe(150);
      expect(report.raw.by_event.every((r) => typeof r.image_bytes_total === "number")).toBe(true);
      expect(report.quarantine.items.every((q) => Array.isArray(q.reasons) && q.reasons.length > 0)).toBe(
        true,
      );
      // The compaction ran with the running stack's DynamoDB (its ledger is there).
      expect(report.compaction.status).toBe("SUCCEEDED");
      const runs = await listRuns(stack.dynamodb.client, LOCAL_LEDGER_TABLE, "compaction");
      expect(runs.map((r) => r.run)).toContain(report.compaction.run_id);
      // The collector's lines, delivered by the running stack's own log pipeline, are in the trace.
      expect(report.trace.rows.some((r) => r.service === "observatory-collector")).toBe(true);
      // What to run again names the data directory (the trace then works with or without the stack).
      expect(stderr).toContain(`observatory trace ${report.trace.correlation_id} --data-dir ${dataDir}`);
      expect(new Set(report.trace.rows.map((r) => r.service))).toEqual(
        new Set(["storefront", "search", "images", "observatory-collector"]),
      );
    } finally {
      await stack.close();
    }
  }, 120_000);

  it("stops at a refused API key with what to do, before sending traffic", async () => {
    const dataDir = join(dir, "key");
    const stack = await startLocalStack({
      dataDir,
      apiKey: "s3cret",
      s3Port: 0,
      collectorPort: 0,
      dynamoPort: 0,
      quiet: true,
    });
    try {
      const { result } = await captured(() =>
        runDemo(options(dataDir, { apiKey: "local-dev-key" })).then(
          () => undefined,
          (error: Error) => error,
        ),
      );
      expect(result?.message).toBe(
        `the collector at ${stack.collector.url} refused API key "local-dev-key" (HTTP 401): pass --api-key <the key \`observatory dev\` printed>`,
      );
    } finally {
      await stack.close();
    }
  });

  it("an --endpoint that is not a collector is an error saying so", async () => {
    const other = createServer((_req, res) => res.end("hello"));
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
    try {
      await expect(
        captured(() => runDemo(options(join(dir, "clash"), { endpoint: url }), [sendTrafficStep])),
      ).rejects.toThrow(
        `no collector at ${url} (--endpoint): something answers there, but not an Observatory collector (GET /v1/health)`,
      );
    } finally {
      other.close();
    }
  });

  it("Ctrl-C stops it in order: traffic stops, what was tracked is delivered, its stack closes, exit 130", async () => {
    const dataDir = join(dir, "ctrl-c");
    // Far more events than it can send before the signal: the stop lands in the middle of the traffic.
    const {
      child,
      output: printed,
      exited,
    } = spawnObservatory(["demo", "--events", "200000", "--data-dir", dataDir]);
    const deadline = Date.now() + 60_000;
    while (!/events from \d+ users/.test(printed())) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`demo did not start sending:\n${printed()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Its own stack is up and advertised while the traffic runs.
    expect(existsSync(join(dataDir, "stack.json"))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(printed()).toMatch(/SIGINT: stopping the demo/);
    const stopped =
      /stopped after tracking (\d+) of (\d+) events; those were delivered \((\d+) accepted, (\d+) rejected/.exec(
        printed(),
      );
    expect(stopped, printed()).not.toBeNull();
    const [tracked, total, accepted, rejected] = stopped!.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
    ];
    expect(tracked).toBeGreaterThan(0);
    expect(tracked).toBeLessThan(total);
    // Nothing tracked was lost: every one was answered for (the bad events come last, after the good ones).
    expect(accepted + rejected).toBe(tracked);
    expect(printed()).not.toMatch(/== 2\./);
    expect(existsSync(join(dataDir, "stack.json"))).toBe(false);
  }, 90_000);
});
