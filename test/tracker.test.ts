// The Tracker against a real HTTP server on 127.0.0.1 that each test scripts: what arrives, how often, when.
import { spawn, spawnSync } from "node:child_process";
import { type AddressInfo, createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_BATCH_CONTEXT_BYTES as COLLECTOR_MAX_BATCH_CONTEXT_BYTES } from "../functions/collector/limits.js";
import { runWithCorrelation } from "../runtime/correlation-context.js";
import { withCorrelation } from "../runtime/correlation-handler.js";
import { Tracker, type TrackerError, type TrackerOptions } from "../runtime/tracker.js";
import { LIBRARY_VERSION } from "../runtime/tracker-event.js";
import { MAX_BATCH_BYTES, MAX_BATCH_CONTEXT_BYTES, MAX_EVENT_BYTES } from "../runtime/tracker-options.js";
import { acceptAll, type ReceivedRequest, type Sink, startSink } from "./tracker-sink.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** Small backoff so retry tests are quick; behaviour, not timing, is asserted. */
const FAST_RETRIES = { retryBaseDelayMs: 5, retryMaxDelayMs: 20 } as const;

let sink: Sink | undefined;
const trackers: Tracker[] = [];

afterEach(async () => {
  for (const tracker of trackers.splice(0)) await tracker.close();
  await sink?.close();
  sink = undefined;
});

async function setup(
  script = acceptAll,
  options: Partial<TrackerOptions> = {},
): Promise<{ sink: Sink; tracker: Tracker; errors: TrackerError[] }> {
  sink = await startSink(script);
  const errors: TrackerError[] = [];
  const tracker = new Tracker({
    endpoint: sink.url,
    apiKey: "test-key",
    flushInterval: 60_000,
    onError: (error) => errors.push(error),
    ...FAST_RETRIES,
    ...options,
  });
  trackers.push(tracker);
  return { sink, tracker, errors };
}

/** Every enqueued event is somewhere: queued, in flight, answered, or given up. */
function expectBalanced(tracker: Tracker): void {
  const s = tracker.stats();
  expect(s.enqueued).toBe(s.queued + s.inFlight + s.sent + s.dropped.retries_exhausted);
}

/** A TCP listener that accepts every connection and closes it at once, before reading it, counting them. */
async function resettingServer(): Promise<{
  url: string;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function eventIds(requests: ReceivedRequest[]): string[] {
  return requests.flatMap((r) => (r.body?.batch ?? []).map((e) => e.event_id as string));
}

describe("Tracker delivery", () => {
  it("sends gzip JSON batches to /v1/batch with the API key, event_id on every event and sent_at on every batch", async () => {
    const { sink, tracker } = await setup(acceptAll, { flushAt: 3 });
    for (let i = 0; i < 7; i++)
      tracker.track("search_made", { query: `q${i}`, n_results: i }, { userId: `u${i}` });
    await tracker.flush();

    // Batches go out concurrently (maxConcurrentRequests), so they may arrive in any order.
    expect(sink.requests.map((r) => r.body?.batch?.length).sort()).toEqual([1, 3, 3]);
    for (const request of sink.requests) {
      expect(request.method).toBe("POST");
      expect(request.path).toBe("/v1/batch");
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["content-encoding"]).toBe("gzip");
      expect(request.headers["x-api-key"]).toBe("test-key");
      expect(Number.isNaN(Date.parse(request.body?.sent_at ?? ""))).toBe(false);
      // What every event shares goes once per batch; the collector merges it into each event's context.
      expect((request.body as { context?: unknown } | undefined)?.context).toEqual({
        library: { name: "observatory-tracker", version: LIBRARY_VERSION },
      });
    }
    const events = sink
      .events()
      .sort(
        (a, b) =>
          (a.properties as { n_results: number }).n_results -
          (b.properties as { n_results: number }).n_results,
      );
    expect(events.map((e) => e.properties)).toEqual(
      [0, 1, 2, 3, 4, 5, 6].map((i) => ({ query: `q${i}`, n_results: i })),
    );
    expect(events[0]).toMatchObject({ event: "search_made", user_id: "u0" });
    // No context of its own was given: the event carries none.
    expect(events[0]).not.toHaveProperty("context");
    expect(new Set(eventIds(sink.requests)).size).toBe(7);
    for (const id of eventIds(sink.requests)) expect(id).toMatch(UUID);
    expect(tracker.stats()).toMatchObject({
      enqueued: 7,
      sent: 7,
      accepted: 7,
      rejected: 0,
      queued: 0,
      inFlight: 0,
      requests: 3,
    });
  });

  it("sends library, service and stage once per batch, and in each event only the context it was given", async () => {
    const { sink, tracker } = await setup(acceptAll, { service: "gallery", stage: "prod" });
    tracker.track("search_made", { n: 1 }, { userId: "u1" });
    tracker.track("search_made", { n: 2 }, { userId: "u1", context: { app: { build: 7 }, stage: "canary" } });
    tracker.track("search_made", { n: 3 }, { userId: "u1", correlationId: "req-9" });
    await tracker.flush();
    expect(sink.requests).toHaveLength(1);
    const body = sink.requests[0]!.body as { context?: unknown; batch: Record<string, unknown>[] };
    expect(body.context).toEqual({
      library: { name: "observatory-tracker", version: LIBRARY_VERSION },
      service: "gallery",
      stage: "prod",
    });
    expect(body.batch.map((e) => e.context)).toEqual([
      undefined,
      { app: { build: 7 }, stage: "canary" },
      { correlation_id: "req-9" },
    ]);
  });

  it("keeps every batch under MAX_BATCH_BYTES and delivers all events", async () => {
    const { sink, tracker } = await setup(acceptAll, { flushAt: 10_000 });
    const blob = "x".repeat(30_000);
    for (let i = 0; i < 40; i++) tracker.track("upload_img", { blob, i }, { anonymousId: "a1" });
    await tracker.flush();

    expect(sink.events()).toHaveLength(40);
    expect(sink.requests.length).toBeGreaterThanOrEqual(Math.ceil((40 * 30_000) / MAX_BATCH_BYTES));
    for (const request of sink.requests)
      expect(Buffer.byteLength(request.text)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    // Every event exactly once; batches go out concurrently, so they may arrive in any order.
    const arrived = sink.events().map((e) => (e.properties as { i: number }).i);
    expect(arrived.sort((a, b) => a - b)).toEqual([...Array(40).keys()]);
  });

  it("drops an event over 32 KiB locally, never sends it, and reports it", async () => {
    const { sink, tracker, errors } = await setup();
    tracker.track("upload_img", { blob: "y".repeat(MAX_EVENT_BYTES) }, { userId: "u1" });
    tracker.track("upload_img", { size: 10 }, { userId: "u1" });
    await tracker.flush();

    expect(sink.events().map((e) => e.properties)).toEqual([{ size: 10 }]);
    expect(tracker.stats().dropped.oversize).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ kind: "dropped", reason: "oversize", count: 1 });
    expect(errors[0]?.message).toMatch(/over the 32768-byte limit/);
  });

  it("measures events and batches in UTF-8 bytes: multi-byte text is bounded by bytes, not characters", async () => {
    const { sink, tracker } = await setup();
    // 'é' is 2 bytes: 17,000 of them are under 32,768 characters but over 32 KiB of UTF-8.
    tracker.track("note", { text: "é".repeat(17_000) }, { userId: "u1" });
    tracker.track("note", { text: "é".repeat(15_000) }, { userId: "u1" });
    for (let i = 0; i < 60; i++) tracker.track("note", { i, text: "日本".repeat(2_000) }, { userId: "u1" });
    await tracker.flush();

    expect(tracker.stats().dropped.oversize).toBe(1);
    const texts = sink.events().map((e) => (e.properties as { text: string }).text);
    expect(texts).toHaveLength(61);
    expect(texts.filter((t) => t === "é".repeat(15_000))).toHaveLength(1);
    expect(texts.filter((t) => t === "日本".repeat(2_000))).toHaveLength(60);
    // 60 events of ~12 KB of UTF-8 (4,000 characters) need at least two batches of <= 480 KiB.
    expect(sink.requests.length).toBeGreaterThanOrEqual(2);
    for (const request of sink.requests)
      expect(Buffer.byteLength(request.text)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
  });

  it("sends whatever is queued after flushInterval without flush(), and the idle timer does not keep a process alive", async () => {
    const { sink, tracker } = await setup(acceptAll, { flushInterval: 30 });
    tracker.track("search_made", { query: "timer" }, { userId: "u1" });
    await expect.poll(() => sink.events().length, { timeout: 5_000 }).toBe(1);

    // A script that tracks with a 1-hour flush interval and never flushes must still exit by itself.
    const here = dirname(fileURLToPath(import.meta.url));
    const script = `
      import { Tracker } from ${JSON.stringify(join(here, "../runtime/tracker.ts"))};
      const t = new Tracker({ endpoint: "http://127.0.0.1:9", apiKey: "k", flushInterval: 3600000 });
      t.track("e", {}, { userId: "u" });
      console.log(JSON.stringify(t.stats()));`;
    const child = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      timeout: 20_000,
      encoding: "utf8",
    });
    expect(child.status).toBe(0);
    expect(JSON.parse(child.stdout)).toMatchObject({ enqueued: 1, queued: 1 });
  });
});

describe("Tracker at the end of a process", () => {
  it("lets the process exit by itself right after close(): no timer or keep-alive connection holds it", async () => {
    // The server offers 2-minute keep-alive: if the Tracker's idle connection kept the loop alive, the
    // child would outlive the 30 s this test waits.
    sink = await startSink(acceptAll, { keepAliveTimeoutMs: 120_000 });
    const { code, stdout } = await runTrackerScript(`{ endpoint: ${JSON.stringify(sink.url)}, apiKey: "k" }`);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ enqueued: 1, accepted: 1, queued: 0, inFlight: 0 });
    expect(sink.events()).toHaveLength(1);
  }, 40_000);

  it("keeps a process alive until a batch to a resetting server has its outcome, then exits 0", async () => {
    // With fetch the child exited with 13 ("unsettled top-level await") and printed nothing.
    const resets = await resettingServer();
    const { code, stdout } = await runTrackerScript(
      `{ endpoint: ${JSON.stringify(resets.url)}, apiKey: "k", maxRetries: 1, retryBaseDelayMs: 5,
        retryMaxDelayMs: 20, onError: (e) => console.log("error:", e.message) }`,
    );
    await resets.close();
    expect(code).toBe(0);
    const [error, stats] = stdout.trim().split("\n");
    expect(error).toMatch(/^error: batch of 1 events not delivered after 2 attempts: .*ECONNRESET/);
    expect(JSON.parse(stats!)).toMatchObject({ enqueued: 1, retries: 1, dropped: { retries_exhausted: 1 } });
  }, 40_000);
});

/**
 * A child process that tracks one event with a Tracker built from `options` (source text), closes it
 * and prints its stats; its exit code and stdout. Async spawn: the server lives in this process and
 * must keep answering. Killed after 30 s (so a hang fails the test instead of stalling it).
 */
async function runTrackerScript(options: string): Promise<{ code: number | null; stdout: string }> {
  const here = dirname(fileURLToPath(import.meta.url));
  const script = `
    import { Tracker } from ${JSON.stringify(join(here, "../runtime/tracker.ts"))};
    const t = new Tracker(${options});
    t.track("e", { n: 1 }, { userId: "u" });
    await t.close();
    console.log(JSON.stringify(t.stats()));`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const killer = setTimeout(() => child.kill(), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearTimeout(killer);
  return { code, stdout };
}

describe("Tracker retries", () => {
  it("retries a 503 no earlier than its Retry-After, with the same event_ids and a fresh sent_at", async () => {
    const { sink, tracker } = await setup((request) =>
      request.index === 0
        ? { status: 503, headers: { "retry-after": "1" }, body: { error: "storage unavailable" } }
        : acceptAll(request),
    );
    tracker.track("downloaded_img", { size: 1 }, { userId: "u1" });
    tracker.track("downloaded_img", { size: 2 }, { userId: "u1" });
    await tracker.flush();

    expect(sink.requests).toHaveLength(2);
    const [first, second] = sink.requests as [ReceivedRequest, ReceivedRequest];
    expect(second.arrivedAt - first.arrivedAt).toBeGreaterThanOrEqual(1000);
    expect(eventIds([second])).toEqual(eventIds([first]));
    expect(Date.parse(second.body?.sent_at ?? "")).toBeGreaterThanOrEqual(
      Date.parse(first.body?.sent_at ?? "") + 1000,
    );
    expect(tracker.stats()).toMatchObject({
      accepted: 2,
      retries: 1,
      requests: 2,
      dropped: { retries_exhausted: 0 },
    });
  });

  it("honors a Retry-After given as an HTTP date", async () => {
    let retryAt = 0;
    const { sink, tracker } = await setup((request) => {
      if (request.index > 0) return acceptAll(request);
      // HTTP dates have whole seconds: ask for the start of the second after next.
      retryAt = (Math.floor(Date.now() / 1000) + 2) * 1000;
      return { status: 503, headers: { "retry-after": new Date(retryAt).toUTCString() } };
    });
    tracker.track("downloaded_img", {}, { userId: "u1" });
    await tracker.flush();
    expect(sink.requests).toHaveLength(2);
    expect(sink.requests[1]!.arrivedAt).toBeGreaterThanOrEqual(retryAt);
  });

  it("retries 429 and 500", async () => {
    const { sink, tracker } = await setup((request) =>
      request.index === 0 ? { status: 429 } : request.index === 1 ? { status: 500 } : acceptAll(request),
    );
    tracker.track("search_made", {}, { userId: "u1" });
    await tracker.flush();
    expect(sink.requests.map((r) => eventIds([r]))).toEqual([
      eventIds([sink.requests[0]!]),
      eventIds([sink.requests[0]!]),
      eventIds([sink.requests[0]!]),
    ]);
    expect(tracker.stats()).toMatchObject({ accepted: 1, retries: 2 });
  });

  it("does not retry a 400: the batch counts as rejected and is reported", async () => {
    const { sink, tracker, errors } = await setup(() => ({
      status: 400,
      body: { error: "body is not a batch" },
    }));
    tracker.track("search_made", {}, { userId: "u1" });
    tracker.track("search_made", {}, { userId: "u2" });
    await tracker.flush();

    expect(sink.requests).toHaveLength(1);
    expect(tracker.stats()).toMatchObject({ sent: 2, accepted: 0, rejected: 2, retries: 0 });
    expectBalanced(tracker);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ kind: "rejected", status: 400, count: 2 });
    expect(errors[0]?.message).toMatch(/body is not a batch/);
  });

  it("retries after a network error (connection cut) and then delivers once", async () => {
    const { sink, tracker } = await setup((request) =>
      request.index === 0 ? "destroy" : acceptAll(request),
    );
    tracker.track("search_made", { query: "net" }, { userId: "u1" });
    await tracker.flush();
    expect(sink.requests).toHaveLength(2);
    expect(eventIds([sink.requests[1]!])).toEqual(eventIds([sink.requests[0]!]));
    expect(tracker.stats()).toMatchObject({ accepted: 1, retries: 1 });
  });

  it("retries while the collector is not listening yet (connection refused), then delivers once", async () => {
    // Learn a free port, then leave it closed: the first attempts are refused.
    const probe = await startSink();
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const errors: TrackerError[] = [];
    const tracker = new Tracker({
      endpoint: probe.url,
      apiKey: "k",
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 200,
      maxRetries: 20,
      onError: (e) => errors.push(e),
    });
    trackers.push(tracker);
    tracker.track("search_made", { query: "refused" }, { userId: "u1" });
    const flushed = tracker.flush();
    await expect.poll(() => tracker.stats().retries, { timeout: 5_000 }).toBeGreaterThan(0);
    sink = await startSink(acceptAll, { port });
    await flushed;
    expect(sink.events().map((e) => e.properties)).toEqual([{ query: "refused" }]);
    expect(tracker.stats()).toMatchObject({ accepted: 1, dropped: { retries_exhausted: 0 } });
    expect(errors).toEqual([]);
  });

  it("retries a connection the server resets before reading it, and gives up with the reason (no hang)", async () => {
    // A proxy or load balancer with no live backend accepts and resets at once. Node 20's fetch never
    // settled on that (it waited for its timeout, 10 s per attempt); the Tracker must see ECONNRESET.
    const resets = await resettingServer();
    const errors: TrackerError[] = [];
    const tracker = new Tracker({
      endpoint: resets.url,
      apiKey: "k",
      maxRetries: 2,
      requestTimeoutMs: 60_000,
      onError: (e) => errors.push(e),
      ...FAST_RETRIES,
    });
    trackers.push(tracker);
    tracker.track("search_made", { query: "reset" }, { userId: "u1" });
    await tracker.flush();
    await resets.close();
    expect(resets.connections()).toBe(3);
    expect(tracker.stats()).toMatchObject({ retries: 2, dropped: { retries_exhausted: 1 } });
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/after 3 attempts: .*ECONNRESET/)]);
  }, 10_000);

  it("retries a request that times out", async () => {
    const { sink, tracker } = await setup((request) => (request.index === 0 ? "hang" : acceptAll(request)), {
      requestTimeoutMs: 200,
    });
    tracker.track("search_made", {}, { userId: "u1" });
    await tracker.flush();
    expect(sink.requests).toHaveLength(2);
    expect(tracker.stats()).toMatchObject({ accepted: 1, retries: 1 });
  });

  it("gives up after maxRetries, sending the same event_ids each time, and counts the events as dropped", async () => {
    const { sink, tracker, errors } = await setup(() => ({ status: 503 }), { maxRetries: 2 });
    tracker.track("search_made", {}, { userId: "u1" });
    await tracker.flush();

    expect(sink.requests).toHaveLength(3);
    expect(new Set(sink.requests.map((r) => eventIds([r]).join()))).toHaveProperty("size", 1);
    expect(tracker.stats()).toMatchObject({
      dropped: { retries_exhausted: 1 },
      retries: 2,
      accepted: 0,
      inFlight: 0,
    });
    expect(errors[0]).toMatchObject({ kind: "dropped", reason: "retries_exhausted", status: 503 });
  });

  it("keeps a retrying batch's request slot: a failing collector gets no extra requests (back pressure)", async () => {
    const { sink, tracker } = await setup(
      (request) => (request.index < 3 ? { status: 503 } : acceptAll(request)),
      {
        flushAt: 1,
        maxConcurrentRequests: 1,
      },
    );
    tracker.track("first", {}, { userId: "u1" });
    tracker.track("second", {}, { userId: "u1" });
    await tracker.flush();
    // With one slot, "second" waits until "first" is through its retries.
    expect(sink.requests.map((r) => r.body?.batch?.[0]?.event)).toEqual([
      "first",
      "first",
      "first",
      "first",
      "second",
    ]);
    expect(tracker.stats()).toMatchObject({ accepted: 2, retries: 3 });
  });

  it("gives up at once when Retry-After asks for longer than maxRetryAfterMs", async () => {
    const { sink, tracker } = await setup(() => ({ status: 503, headers: { "retry-after": "3600" } }), {
      maxRetryAfterMs: 1_000,
    });
    tracker.track("search_made", {}, { userId: "u1" });
    await tracker.flush();
    expect(sink.requests).toHaveLength(1);
    expect(tracker.stats().dropped.retries_exhausted).toBe(1);
  });

  it("reports per-event rejections of a 200 answer", async () => {
    const { tracker, errors } = await setup((request) => ({
      status: 200,
      body: {
        accepted: 1,
        rejected: [
          {
            index: 1,
            event_id: request.body?.batch?.[1]?.event_id,
            errors: ["properties.n_results must be integer"],
          },
        ],
      },
    }));
    tracker.track("search_made", { n_results: 1 }, { userId: "u1" });
    tracker.track("search_made", { n_results: "many" }, { userId: "u1" });
    await tracker.flush();
    expect(tracker.stats()).toMatchObject({ sent: 2, accepted: 1, rejected: 1 });
    expect(errors[0]).toMatchObject({ kind: "rejected", count: 1, status: 200 });
    expect(errors[0]?.rejected?.[0]?.errors).toEqual(["properties.n_results must be integer"]);
  });
});

describe("Tracker flush, queue and close", () => {
  it("flush() waits until the server has every event exactly once, across concurrent slow requests", async () => {
    const { sink, tracker } = await setup(
      (request) => ({ ...(acceptAll(request) as object), status: 200, delayMs: 20 }),
      {
        flushAt: 50,
        maxConcurrentRequests: 3,
      },
    );
    for (let i = 0; i < 1000; i++) tracker.track("downloaded_img", { i }, { userId: `u${i % 17}` });
    await tracker.flush();

    const ids = eventIds(sink.requests);
    expect(ids).toHaveLength(1000);
    expect(new Set(ids).size).toBe(1000);
    expect(tracker.stats()).toMatchObject({ enqueued: 1000, accepted: 1000, queued: 0, inFlight: 0 });
    expectBalanced(tracker);
  });

  it("flush() also waits for a batch already in flight when it is called", async () => {
    const { sink, tracker } = await setup(
      (request) => ({ ...(acceptAll(request) as object), status: 200, delayMs: 200 }),
      {
        flushAt: 1,
      },
    );
    tracker.track("search_made", {}, { userId: "u1" });
    await expect.poll(() => tracker.stats().inFlight).toBe(1);
    expectBalanced(tracker);
    await tracker.flush();
    expect(sink.events()).toHaveLength(1);
    expect(tracker.stats()).toMatchObject({ accepted: 1, inFlight: 0 });
  });

  it("holds the queue bound by count: newest events are dropped and counted", async () => {
    const { sink, tracker, errors } = await setup(acceptAll, { flushAt: 1000, maxQueueSize: 10 });
    for (let i = 0; i < 25; i++) tracker.track("search_made", { i }, { userId: "u1" });
    expect(tracker.stats()).toMatchObject({ enqueued: 10, queued: 10, dropped: { queue_full: 15 } });
    expectBalanced(tracker);
    await tracker.flush();
    expect(sink.events().map((e) => (e.properties as { i: number }).i)).toEqual([...Array(10).keys()]);
    expect(errors.filter((e) => e.reason === "queue_full")).toHaveLength(15);
  });

  it("holds the queue bound by bytes", async () => {
    const { tracker } = await setup(acceptAll, { flushAt: 1000, maxQueueBytes: 10_000 });
    for (let i = 0; i < 10; i++) tracker.track("search_made", { pad: "p".repeat(2_000) }, { userId: "u1" });
    const stats = tracker.stats();
    expect(stats.enqueued).toBe(4);
    expect(stats.dropped.queue_full).toBe(6);
  });

  it("never sends an event twice after a success, however often flush() is called", async () => {
    const { sink, tracker } = await setup(acceptAll, { flushAt: 7 });
    for (let i = 0; i < 30; i++) {
      tracker.track("search_made", { i }, { userId: "u1" });
      if (i % 4 === 0) void tracker.flush();
    }
    await Promise.all([tracker.flush(), tracker.flush()]);
    await tracker.close();
    await tracker.flush();
    const ids = eventIds(sink.requests);
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);
  });

  it("close() delivers what was queued and refuses later events", async () => {
    const { sink, tracker, errors } = await setup();
    tracker.track("search_made", {}, { userId: "u1" });
    await tracker.close();
    tracker.track("search_made", {}, { userId: "u1" });
    await tracker.flush();
    expect(sink.events()).toHaveLength(1);
    expect(tracker.stats().dropped.closed).toBe(1);
    expect(errors.at(-1)).toMatchObject({ reason: "closed" });
  });
});

describe("Tracker correlation", () => {
  it("puts events of different correlation IDs in one batch, each with its own context.correlation_id, and no header", async () => {
    const { sink, tracker } = await setup();
    runWithCorrelation({ correlationId: "req-A" }, () => {
      tracker.track("search_made", { n: 1 }, { userId: "u1" });
      tracker.track("search_made", { n: 2 }, { userId: "u1", correlationId: "req-B" });
    });
    runWithCorrelation({ correlationId: "req-B" }, () =>
      tracker.track("search_made", { n: 3 }, { userId: "u1" }),
    );
    tracker.track("search_made", { n: 4 }, { userId: "u1" });
    await tracker.flush();

    expect(sink.requests).toHaveLength(1);
    expect(sink.requests[0]?.headers["x-correlation-id"]).toBeUndefined();
    expect(
      sink
        .events()
        .map((e) => [
          (e.properties as { n: number }).n,
          (e.context as { correlation_id?: string } | undefined)?.correlation_id,
        ]),
    ).toEqual([
      [1, "req-A"],
      [2, "req-B"],
      [3, "req-B"],
      [4, undefined],
    ]);
  });

  it("in a Lambda handler wrapped by withCorrelation, stamps the request's ID and flush() delivers before returning", async () => {
    const { sink, tracker } = await setup();
    const handler = withCorrelation(async (event: APIGatewayProxyEventV2) => {
      tracker.track(
        "search_made",
        { query: event.queryStringParameters?.q ?? "", n_results: 3 },
        { userId: "1234" },
      );
      await tracker.flush();
      return { statusCode: 200, body: String(sink.events().length) };
    });
    const event = {
      version: "2.0",
      routeKey: "GET /search",
      rawPath: "/search",
      rawQueryString: "q=parquet",
      queryStringParameters: { q: "parquet" },
      headers: { "x-correlation-id": "req-from-gateway" },
      requestContext: { requestId: "r1", http: { method: "GET", path: "/search" } },
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
    const result = (await handler(event, { awsRequestId: "aws-1", functionName: "search" } as Context)) as {
      body: string;
    };

    // The event was at the collector before the handler returned.
    expect(result.body).toBe("1");
    expect(sink.requests[0]?.headers["x-correlation-id"]).toBe("req-from-gateway");
    expect(sink.events()[0]).toMatchObject({
      properties: { query: "parquet" },
      context: { correlation_id: "req-from-gateway" },
    });
  });

  it("sends the header only when every event of a batch shares one ID", async () => {
    const { sink, tracker } = await setup();
    tracker.track("search_made", {}, { userId: "u1", correlationId: "a" });
    tracker.track("search_made", {}, { userId: "u1", correlationId: "b" });
    await tracker.flush();
    tracker.track("search_made", {}, { userId: "u1", correlationId: "c" });
    tracker.track("search_made", {}, { userId: "u1", correlationId: "c" });
    await tracker.flush();
    tracker.track("search_made", {}, { userId: "u1", correlationId: "c" });
    tracker.track("search_made", {}, { userId: "u1" });
    await tracker.flush();
    expect(sink.requests.map((r) => [r.body?.batch?.length, r.headers["x-correlation-id"]])).toEqual([
      [2, undefined],
      [2, "c"],
      [2, undefined],
    ]);
  });
});

describe("track() on garbage input", () => {
  it("never throws; drops what cannot be an event and sends what can, made JSON-safe", async () => {
    const { sink, tracker } = await setup();
    const circular: Record<string, unknown> = { name: "loop" };
    circular.self = circular;
    const shared = { a: 1 };
    const any = tracker as unknown as { track: (...args: unknown[]) => void };
    const calls: unknown[][] = [
      ["with_cycle", circular, { userId: "u1" }],
      ["with_bigint", { big: 2n ** 70n, shared, again: shared }, { userId: "u1" }],
      [
        "with_throwing_to_json",
        {
          x: {
            toJSON: () => {
              throw new Error("nope");
            },
          },
        },
        { userId: "u1" },
      ],
      [undefined, {}, { userId: "u1" }],
      ["", {}, { userId: "u1" }],
      [42, {}, { userId: "u1" }],
      ["no_identity", {}, {}],
      ["null_options", {}, null],
      ["no_options", {}],
      ["array_props", [1, 2], { userId: "u1" }],
      ["string_props", "hello", { userId: "u1" }],
      ["bad_date", {}, { userId: "u1", timestamp: new Date("nope") }],
      ["bad_timestamp", {}, { userId: "u1", timestamp: "yesterday-ish" }],
      ["symbol_context", {}, { userId: "u1", context: { s: Symbol("x") } }],
      ["numeric_user", { ok: true }, { userId: 12345 }],
      [],
    ];
    for (const args of calls) expect(() => any.track(...args)).not.toThrow();
    // A getter that throws, through a Proxy: still no throw.
    const hostile = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error("hostile");
        },
      },
    );
    expect(() => any.track("hostile", hostile, { userId: "u1" })).not.toThrow();
    await tracker.flush();

    const received = new Map(sink.events().map((e) => [e.event, e]));
    expect([...received.keys()].sort()).toEqual([
      "numeric_user",
      "symbol_context",
      "with_bigint",
      "with_cycle",
    ]);
    expect(received.get("with_cycle")?.properties).toEqual({ name: "loop", self: "[Circular]" });
    expect(received.get("with_bigint")?.properties).toEqual({
      big: (2n ** 70n).toString(),
      shared: { a: 1 },
      again: { a: 1 },
    });
    expect(received.get("numeric_user")?.user_id).toBe("12345");
    const { dropped } = tracker.stats();
    expect(dropped.invalid).toBe(11);
    expect(dropped.unserializable).toBe(2);
  });

  it("without onError, warns once per kind of trouble and counts the rest", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    try {
      const tracker = new Tracker({ endpoint: "http://127.0.0.1:9", apiKey: "k" });
      for (let i = 0; i < 3; i++)
        tracker.track("big", { blob: "z".repeat(MAX_EVENT_BYTES) }, { userId: "u" });
      (tracker as unknown as { track: (...args: unknown[]) => void }).track("no_identity", {}, {});
      expect(warn).toHaveBeenCalledTimes(2);
      expect(String(warn.mock.calls[0]?.[0])).toMatch(
        /over the 32768-byte limit.*further ones are only counted/,
      );
      expect(tracker.stats().dropped).toMatchObject({ oversize: 3, invalid: 1 });
    } finally {
      warn.mockRestore();
    }
  });

  it("snapshots properties at track() time", async () => {
    const { sink, tracker } = await setup();
    const props = { count: 1 };
    tracker.track("search_made", props, { userId: "u1" });
    props.count = 99;
    await tracker.flush();
    expect(sink.events()[0]?.properties).toEqual({ count: 1 });
  });

  it("rejects a bad configuration at construction with a message that says what to do", () => {
    expect(() => new Tracker({ endpoint: "localhost:4000", apiKey: "k" })).toThrow(/absolute http\(s\) URL/);
    expect(() => new Tracker({ endpoint: "http://127.0.0.1:4000", apiKey: "" })).toThrow(/apiKey/);
    expect(() => new Tracker({ endpoint: "http://127.0.0.1:4000", apiKey: "k", flushAt: 0 })).toThrow(
      /flushAt/,
    );
    // service and stage go into every batch's context, which the collector bounds (it copies it onto every event).
    expect(
      () =>
        new Tracker({
          endpoint: "http://127.0.0.1:4000",
          apiKey: "k",
          service: "s".repeat(MAX_BATCH_CONTEXT_BYTES),
        }),
    ).toThrow(/batch context of \d+ bytes; the collector accepts at most 1024: use shorter names/);
    // The Tracker's bound is the collector's.
    expect(MAX_BATCH_CONTEXT_BYTES).toBe(COLLECTOR_MAX_BATCH_CONTEXT_BYTES);
  });

  it("types: identity is required, and a typed event map checks properties", () => {
    const typed = new Tracker<{ search_made: { query: string; n_results: number } }>({
      endpoint: "http://127.0.0.1:9",
      apiKey: "k",
      maxRetries: 0,
      onError: () => {},
    });
    trackers.push(typed as unknown as Tracker);
    typed.track("search_made", { query: "q", n_results: 1 }, { anonymousId: "a" });
    // @ts-expect-error userId or anonymousId is required
    typed.track("search_made", { query: "q", n_results: 1 }, {});
    // @ts-expect-error n_results must be a number
    typed.track("search_made", { query: "q", n_results: "1" }, { userId: "u" });
    // @ts-expect-error undeclared event name
    typed.track("serch_made", { query: "q", n_results: 1 }, { userId: "u" });
    expect(typed.stats()).toMatchObject({ enqueued: 3, dropped: { invalid: 1 } });
  });
});
