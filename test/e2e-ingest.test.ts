// End to end: the app-side Tracker -> local API Gateway -> collector -> local S3, through startLocalStack.
// Every accepted event must land in the raw zone exactly once, also when storage fails and the Tracker retries.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { badDemoTraffic, demoTraffic, type TrackCall } from "../local/demo-traffic.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { type LocalStack, startLocalStack } from "../local/stack.js";
import { Tracker } from "../runtime/tracker.js";
import { LIBRARY_VERSION } from "../runtime/tracker-event.js";
import { readNdjsonObjects } from "./collector-helpers.js";

function send(tracker: Tracker, calls: TrackCall[]): void {
  for (const call of calls) tracker.track(call.event, call.properties, call.options);
}

async function rawEventIds(s3: LocalS3): Promise<string[]> {
  return (await readNdjsonObjects(s3.client, s3.bucket, "raw/")).flatMap((o) =>
    o.lines.map((l) => l.event_id as string),
  );
}

describe("Tracker -> local stack -> S3", () => {
  let dir: string;
  let stack: LocalStack;
  let s3: LocalS3;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-e2e-"));
    stack = await startLocalStack({ dataDir: dir, s3Port: 0, collectorPort: 0, dynamoPort: 0, quiet: true });
    s3 = stack.s3;
  });
  afterAll(async () => {
    await stack?.close();
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("lands every tracked event exactly once, conformed, with its correlation id; bad ones in quarantine", async () => {
    const tracker = new Tracker({ endpoint: stack.collector.url, apiKey: stack.apiKey, flushAt: 100 });
    const good = demoTraffic({ events: 800, seed: 7 });
    const bad = badDemoTraffic();
    send(tracker, good);
    send(tracker, bad);
    await tracker.close();
    expect(tracker.stats()).toMatchObject({ accepted: good.length, rejected: bad.length, retries: 0 });

    const raw = (await readNdjsonObjects(s3.client, s3.bucket, "raw/")).flatMap((o) => o.lines);
    const ids = raw.map((r) => r.event_id);
    expect(ids).toHaveLength(good.length);
    expect(new Set(ids).size).toBe(good.length);
    // Legacy producer names met the conformed ones.
    expect(new Set(raw.map((r) => r.event))).toEqual(
      new Set(["search_made", "downloaded_img", "uploaded_img"]),
    );
    expect(raw.every((r) => r.schema_version === 1)).toBe(true);
    // Each session's correlation id is on its events (its own context.correlation_id, kept by the collector).
    const bySession = raw.filter((r) => r.correlation_id === "demo-7-1");
    expect(bySession.length).toBe(good.filter((c) => c.options.correlationId === "demo-7-1").length);
    expect(bySession[0].context.library).toEqual({
      name: "observatory-tracker",
      version: expect.any(String),
    });

    const quarantined = (await readNdjsonObjects(s3.client, s3.bucket, "quarantine/")).flatMap(
      (o) => o.lines,
    );
    expect(quarantined).toHaveLength(bad.length);
    expect(quarantined.every((q) => q.reasons.length > 0 && q.payload_encoding === "json")).toBe(true);
  });

  it("stores each event with the batch's context (library, service, stage) merged under its own", async () => {
    const tracker = new Tracker({
      endpoint: stack.collector.url,
      apiKey: stack.apiKey,
      service: "Image Site",
      stage: "prod",
    });
    tracker.track("search_made", { query: "cats", n_results: 3 }, { userId: "u-merge-1" });
    tracker.track(
      "search_made",
      { query: "dogs", n_results: 0 },
      { userId: "u-merge-2", correlationId: "req-merge", context: { app: { build: 7 }, stage: "canary" } },
    );
    await tracker.close();
    expect(tracker.stats()).toMatchObject({ accepted: 2, rejected: 0 });
    const raw = (await readNdjsonObjects(s3.client, s3.bucket, "raw/"))
      .flatMap((o) => o.lines)
      .filter((r) => String(r.user_id).startsWith("u-merge-"))
      .sort((a, b) => String(a.user_id).localeCompare(String(b.user_id)));
    const library = { name: "observatory-tracker", version: LIBRARY_VERSION };
    // No context of its own: the batch's, then what the collector adds.
    expect(raw[0]).toMatchObject({ service: "Image Site", stage: "prod" });
    expect(raw[0].context).toEqual({
      library,
      service: "Image Site",
      stage: "prod",
      user_agent: expect.stringMatching(/^observatory-tracker\//),
      ip: "127.0.0.1",
      request_id: raw[0].request_id,
    });
    // Its own members win (stage), the batch's fill in the rest.
    expect(raw[1]).toMatchObject({ service: "Image Site", stage: "canary", correlation_id: "req-merge" });
    expect(raw[1].context).toMatchObject({
      library,
      service: "Image Site",
      stage: "canary",
      app: { build: 7 },
      correlation_id: "req-merge",
    });
  });

  it("delivers exactly once across an S3 outage: 503 + Retry-After, the Tracker retries, no duplicate", async () => {
    const before = new Set(await rawEventIds(s3));
    const calls = demoTraffic({ events: 200, seed: 99 });
    // Take S3 down (same data directory, same port) and bring it back while the Tracker waits to retry.
    const { port } = s3;
    await s3.close();
    const tracker = new Tracker({
      endpoint: stack.collector.url,
      apiKey: stack.apiKey,
      flushAt: 100,
      maxRetries: 3,
    });
    send(tracker, calls);
    const flushed = tracker.flush();
    for (let i = 0; i < 200 && tracker.stats().retries === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(tracker.stats().retries).toBeGreaterThan(0);
    s3 = await startLocalS3({ directory: join(dir, "s3"), port });
    await flushed;
    await tracker.close();
    expect(tracker.stats()).toMatchObject({ accepted: calls.length, rejected: 0 });
    expect(Object.values(tracker.stats().dropped).reduce((a, b) => a + b, 0)).toBe(0);

    const after = (await rawEventIds(s3)).filter((id) => !before.has(id));
    expect(after).toHaveLength(calls.length);
    expect(new Set(after).size).toBe(calls.length);
  }, 60_000);
});
