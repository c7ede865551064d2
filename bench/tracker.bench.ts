// `npm run bench -- tracker`: Observatory's Tracker against @segment/analytics-node, measured in the same run.
//  1. track() cost per call, both clients with a huge flushAt so no network interferes: wall clock and
//     CPU time (robust when other processes compete for the 2 cores) of the synchronous calls, and CPU
//     with the work each client defers to the event loop (Segment's plugin pipeline runs there). A
//     harness round (same loop and event factory, no client) shows what the app side costs by itself.
//  2. Events/s delivered end to end: the receiver runs in its own process (bench/tracker-peer.ts):
//       Segment (flushAt 100, as in the issue) -> an HTTP sink answering 200
//       Tracker (defaults)                    -> the same kind of sink            (like for like)
//       Tracker (defaults)                    -> the real collector + s3rver      (the issue's goal)
//       Tracker (defaults)                    -> the same with 1 and 2 collector workers (dev --workers N)
//     The stacks keep s3rver's files in RAM (tmpfs); the 2-worker stack runs once more with them on the
//     disk, where `npm start` keeps its data (bench/stack-storage.ts says why), and the goal is
//     reported for both.
//     Every receiver is warmed the same way first (WARMUP_EVENTS from the same client, untimed), each
//     timed run lasts seconds, and every run is checked on the receiving side: all events arrived
//     (warm-up included), none twice. Client and receiver CPU per event are reported, and from them
//     the most the machine's cores could deliver (cores / CPU per event).
//  3. Server-style traffic (50 requests in progress at once, 5 events each) to the collector: mixed
//     batches, each event under its own correlation ID (checked in the raw zone), against the same
//     traffic with no correlation IDs at all (baseline, same run).
//  4. gzip level 1 vs 6 on a full batch (why GZIP_LEVEL is 1).
//  5. Receiver capacity: pre-built gzip batches exactly as the Tracker sends them, posted by a minimal
//     load generator (keep-alive, 4 in flight, almost no client CPU) to the real local stack with 0, 1
//     and 2 collector workers: what the receiver absorbs with the machine to itself, as a ratio to
//     Segment's delivered rate in the same run. It tells whether the end-to-end figure is bounded by the
//     receiver or by the 2 cores the client and the receiver share.
// TRACKER_BENCH_PARTS=3 (or 1,3 ...) runs only those parts.
import { type ChildProcess, fork } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep, setImmediate as yieldToLoop } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Analytics } from "@segment/analytics-node";
import { BatchQueue } from "../runtime/batch-queue.js";
import { Tracker } from "../runtime/tracker.js";
import { EventSerializer } from "../runtime/tracker-event.js";
import { GZIP_LEVEL, MAX_BATCH_BYTES, TRACKER_DEFAULTS } from "../runtime/tracker-options.js";
import { diskStorage, ramStorage, type Storage, type StorageDir } from "./stack-storage.js";
import type { PeerCount, PeerCpu } from "./tracker-peer.js";

const here = dirname(fileURLToPath(import.meta.url));
/** Parts to run (all by default): part 3 alone takes seconds, the whole benchmark minutes. */
const PARTS = new Set((process.env.TRACKER_BENCH_PARTS ?? "1,2,3,4,5").split(",").map((p) => p.trim()));
/**
 * Calls per timed round of the call-cost part: enough that timer resolution vanishes, few enough that a
 * round's retained events (nothing is sent during it) do not turn the measurement into a GC benchmark.
 */
const CALLS = 20_000;
/** Rounds alternate Tracker and Segment; the minimum is the least disturbed by other processes. */
const CALL_ROUNDS = 10;
/** Events per end-to-end Segment run: ~3.5 s at the ~15,000 events/s it delivers here. */
const E2E_EVENTS = 50_000;
/**
 * Events per end-to-end Tracker run: ~1.3 s to the sink, ~3 s to the stack, as long as a Segment run.
 * At 50,000 a Tracker run lasted 0.7 s, too short for the receiver's JIT and GC to settle; at 200,000
 * (1.2 s) the 2-worker stack still delivered ~4% less than over 500,000 (3 alternating pairs).
 */
const TRACKER_E2E_EVENTS = 500_000;
/**
 * Every receiver gets this many events from the same kind of client before the timed run (not timed,
 * but counted in the receiving-side check): a fresh peer process is compiled and warm for both clients.
 * 60,000 is ~32 full Tracker batches, ~16 per collector worker with 2 workers (Segment: 600 requests).
 * At 10,000 (~5 batches, 2-3 per worker) the timed run's first requests still ran in colder code and a
 * younger heap: 5 alternating pairs of 200,000-event runs to the 2-worker stack (scratch driver) gave
 * 147-154k events/s after 10,000 and 161-167k after 60,000 (docs/benchmarks/tracker.md, "Fifth pass").
 */
const WARMUP_EVENTS = 60_000;
/** s3rver's data in RAM when the machine has a tmpfs, else on the disk (bench/stack-storage.ts says why). */
const RAM = ramStorage();
const DISK = diskStorage();
const STORAGE_DIRS: Record<Storage, StorageDir> = { ram: RAM ?? DISK, disk: DISK };
/** A local stack: its collector workers (`observatory dev --workers N`, 0 = in the stack's process) and where s3rver keeps its files. */
interface StackKind {
  workers: number;
  storage: Storage;
}
const MAIN_STORAGE: Storage = RAM === undefined ? "disk" : "ram";
/**
 * Local stacks measured: the collector in the stack's process (the default), in one worker process
 * (s3rver and the collector apart), in two (one per core here); and, when the others run in RAM, the
 * two-worker stack again with its data on the disk, for the record.
 */
const STACKS: StackKind[] = [
  ...[0, 1, 2].map((workers) => ({ workers, storage: MAIN_STORAGE })),
  ...(MAIN_STORAGE === "ram" ? [{ workers: 2, storage: "disk" as const }] : []),
];

function stackLabel({ workers, storage }: StackKind): string {
  const collector =
    workers === 0 ? "collector + s3rver" : `collector in ${workers} worker${workers > 1 ? "s" : ""} + s3rver`;
  return `${collector} (data ${storage === "ram" ? "in RAM" : "on disk"})`;
}
/**
 * Rounds of part 2 (and part 5), clients alternating: 5, because Segment's own rate moves by 10-15%
 * from round to round here (15.2-17.9k events/s in one run) and the goal is a ratio to its median.
 */
const E2E_ROUNDS = 5;
/** The producer tracks this many events, then yields to the loop (as a busy app would between requests). */
const CHUNK = 500;
/** Segment's batch size, as measured in the issue. */
const SEGMENT_FLUSH_AT = 100;

interface BenchEvent {
  event: string;
  properties: Record<string, unknown>;
  userId: string;
}

/** Distinct values the traffic draws from (users, image ids, queries). */
const POOL = 4_096;

/**
 * Realistic traffic: image downloads/uploads with sizes, searches whose queries are words of the seed
 * talks. `event(i)` builds a FRESH properties object per call, as an app does at its call site
 * (pre-built objects would be cold in cache and long-lived, which no app's events are).
 */
function makeTraffic(): (i: number) => BenchEvent {
  const seedDir = "/work/shared/seeds";
  let words: string[] = [];
  try {
    const text = readdirSync(seedDir)
      .filter((f) => f.endsWith(".txt"))
      .map((f) => readFileSync(join(seedDir, f), "utf8"))
      .join(" ");
    words = text.toLowerCase().match(/[a-z]{4,}/g) ?? [];
  } catch {
    // Seeds are optional: fall back to a fixed vocabulary.
  }
  if (words.length < 50)
    words = "metrics logs lambda athena parquet serverless pipeline correlation tracing etl".split(" ");
  let state = 42;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)]!;
  const users = Array.from({ length: POOL }, () => String(1 + Math.floor(random() * 5_000)));
  const imageIds = Array.from({ length: POOL }, () => Math.floor(random() * 1e9).toString(36));
  const sizes = Array.from({ length: POOL }, () => Math.floor(random() * 50_000));
  const queries = Array.from({ length: POOL }, () =>
    Array.from({ length: 1 + Math.floor(random() * 4) }, () => pick(words)).join(" "),
  );
  const kinds = Array.from({ length: POOL }, () => random());
  return (i) => {
    const k = i % POOL;
    const j = (i * 7 + 3) % POOL;
    const userId = users[j]!;
    const roll = kinds[k]!;
    if (roll < 0.5)
      return { event: "downloaded_img", properties: { image_id: imageIds[j], image_size: sizes[k] }, userId };
    if (roll < 0.7)
      return { event: "uploaded_img", properties: { image_id: imageIds[k], image_size: sizes[j] }, userId };
    return { event: "search_made", properties: { query: queries[j], n_results: sizes[k]! % 200 }, userId };
  };
}

// ---------- receiving peers (separate processes) ----------

interface Peer {
  url: string;
  apiKey: string;
  count(): Promise<PeerCount>;
  cpu(): Promise<PeerCpu>;
  close(): Promise<void>;
}

/** A receiving peer: an HTTP sink, or a local stack. */
type PeerKind = "sink" | StackKind;

function peerArgs(kind: PeerKind): string[] {
  if (kind === "sink") return ["sink"];
  return ["stack", String(kind.workers), STORAGE_DIRS[kind.storage].dir];
}

async function startPeer(kind: PeerKind): Promise<Peer> {
  const child: ChildProcess = fork(join(here, "tracker-peer.ts"), peerArgs(kind), {
    // (s3rver's DES listing tokens need no legacy OpenSSL flag: local/s3rver-des-shim.ts handles them.)
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      child.once("message", (message) => resolve(message as T));
      child.once("exit", (code) => reject(new Error(`peer ${peerArgs(kind).join(" ")} exited with ${code}`)));
    });
  const ready = await next<{ url: string; apiKey: string }>();
  return {
    ...ready,
    count: () => {
      const answer = next<PeerCount>();
      child.send("count");
      return answer;
    },
    cpu: () => {
      const answer = next<PeerCpu>();
      child.send("cpu");
      return answer;
    },
    close: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.send("close");
      }),
  };
}

// ---------- 1. track() call cost ----------

/** Per-call nanoseconds of one round: wall clock, and CPU time of this process (robust when other processes compete for the cores). */
interface RoundCost {
  wallSync: number;
  wallSettled: number;
  cpuSync: number;
  cpuSettled: number;
}

async function timeRound(
  call: (e: BenchEvent) => void,
  event: (i: number) => BenchEvent,
): Promise<RoundCost> {
  const cpu = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) * 1000;
  };
  const wall0 = process.hrtime.bigint();
  const cpu0 = cpu();
  for (let i = 0; i < CALLS; i++) call(event(i));
  const wall1 = process.hrtime.bigint();
  const cpu1 = cpu();
  await yieldToLoop();
  const wall2 = process.hrtime.bigint();
  const cpu2 = cpu();
  return {
    wallSync: Number(wall1 - wall0) / CALLS,
    wallSettled: Number(wall2 - wall0) / CALLS,
    cpuSync: (cpu1 - cpu0) / CALLS,
    cpuSettled: (cpu2 - cpu0) / CALLS,
  };
}

/** Written by the harness round so that its loop is not optimized away. */
let harnessSink: unknown;

async function callCost(sinkUrl: string, event: (i: number) => BenchEvent) {
  const harness: RoundCost[] = [];
  const observatory: RoundCost[] = [];
  const segment: RoundCost[] = [];
  for (let round = 0; round < CALL_ROUNDS; round++) {
    // The same loop and event factory with no client: what the app side costs on its own.
    harness.push(
      await timeRound((e) => {
        harnessSink = { userId: e.userId };
      }, event),
    );
    const tracker = new Tracker({
      endpoint: sinkUrl,
      apiKey: "bench-key",
      flushAt: CALLS + 1,
      maxQueueSize: CALLS + 1,
      maxQueueBytes: 1024 ** 3,
      flushInterval: 3_600_000,
    });
    observatory.push(
      await timeRound((e) => tracker.track(e.event, e.properties, { userId: e.userId }), event),
    );
    if (tracker.stats().enqueued !== CALLS)
      throw new Error(`Tracker enqueued ${tracker.stats().enqueued} of ${CALLS}`);
    await tracker.close();

    const analytics = new Analytics({
      writeKey: "bench-key",
      host: sinkUrl,
      flushAt: CALLS + 1,
      flushInterval: 3_600_000,
    });
    segment.push(
      await timeRound(
        (e) => analytics.track({ event: e.event, properties: e.properties, userId: e.userId }),
        event,
      ),
    );
    await analytics.closeAndFlush();
  }
  if (harnessSink === undefined) throw new Error("harness loop did not run");
  return { harness, observatory, segment };
}

// ---------- 2. events/s delivered ----------

interface Delivery {
  label: string;
  seconds: number;
  eventsPerSecond: number;
  received: PeerCount;
  requests: number;
  /** Events sent in the timed run. */
  total: number;
  /** Events the receiver must hold: the timed ones and the warm-up's. */
  expected: number;
  /** Server-style traffic with correlation IDs (then the raw zone is checked for them). */
  serverStyle?: boolean;
  /** CPU time this (client) process spent per delivered event, in microseconds. */
  clientCpuUsPerEvent: number;
  /** CPU time of the receiving side per event (its process; its collector workers), in microseconds. */
  receiverCpu: { selfUs: number; workersUs: number };
  note: string;
}

function receiverCpuPerEvent(before: PeerCpu, after: PeerCpu, events: number) {
  return {
    selfUs: (after.selfMicros - before.selfMicros) / events,
    workersUs: (after.workersMicros - before.workersMicros) / events,
  };
}

/** "receiver CPU 10.3 us/event (stack 2.3 + workers 8.0)" */
function describeReceiverCpu(cpu: { selfUs: number; workersUs: number }): string {
  const total = `receiver CPU ${fmt(cpu.selfUs + cpu.workersUs, 1)} us/event`;
  return cpu.workersUs === 0
    ? total
    : `${total} (stack process ${fmt(cpu.selfUs, 1)} + workers ${fmt(cpu.workersUs, 1)})`;
}

/** CPU microseconds (user + system) of this process so far. */
function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** Server-style traffic: this many requests in progress at once, each tracking REQUEST_EVENTS events. */
const CONCURRENT_REQUESTS = 50;
const REQUEST_EVENTS = 5;
/** Correlation ID of event i in server-style traffic: 50 interleaved requests of 5 events, then the next 50. */
function serverRequestId(i: number): string {
  const wave = Math.floor(i / (CONCURRENT_REQUESTS * REQUEST_EVENTS));
  return `req-${wave}-${i % CONCURRENT_REQUESTS}`;
}

/** Tracks events [from, to) of `event` and waits for delivery: the app side of a Tracker run. */
async function trackAll(
  tracker: Tracker,
  event: (i: number) => BenchEvent,
  from: number,
  to: number,
  serverStyle: boolean | undefined,
): Promise<void> {
  for (let i = from; i < to; i++) {
    const e = event(i);
    const correlationId = serverStyle ? serverRequestId(i) : undefined;
    tracker.track(e.event, e.properties, { userId: e.userId, correlationId });
    if (i % CHUNK === CHUNK - 1) {
      await yieldToLoop();
      // Harness flow control: track() never blocks, so a producer faster than the receiver must wait
      // itself or lose events to the queue bound; the benchmark measures delivery, so it waits.
      while (tracker.stats().queued > TRACKER_DEFAULTS.maxQueueSize / 2) await sleep(1);
    }
  }
  await tracker.close();
}

async function deliverWithTracker(
  label: string,
  kind: PeerKind,
  event: (i: number) => BenchEvent,
  options: { events?: number; serverStyle?: boolean } = {},
): Promise<Delivery> {
  const total = options.events ?? TRACKER_E2E_EVENTS;
  const peer = await startPeer(kind);
  const errors: string[] = [];
  const newTracker = () =>
    new Tracker({ endpoint: peer.url, apiKey: peer.apiKey, onError: (e) => errors.push(e.message) });
  // Warm-up: distinct events (ids) before the timed ones, so the receiving-side check covers both.
  const warmup = newTracker();
  await trackAll(warmup, event, total, total + WARMUP_EVENTS, options.serverStyle);
  const tracker = newTracker();
  const receiverStart = await peer.cpu();
  const cpuStart = cpuMicros();
  const start = process.hrtime.bigint();
  await trackAll(tracker, event, 0, total, options.serverStyle);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const clientCpuUsPerEvent = (cpuMicros() - cpuStart) / total;
  const receiverCpu = receiverCpuPerEvent(receiverStart, await peer.cpu(), total);
  const received = await peer.count();
  await peer.close();
  const stats = tracker.stats();
  if (errors.length > 0) console.log(`  ${label}: ${errors.length} errors, first: ${errors[0]}`);
  return {
    label,
    seconds,
    eventsPerSecond: total / seconds,
    clientCpuUsPerEvent,
    receiverCpu,
    received,
    requests: stats.requests,
    total,
    expected: total + WARMUP_EVENTS,
    serverStyle: options.serverStyle,
    note: `accepted ${stats.accepted}, dropped ${Object.values(stats.dropped).reduce((a, b) => a + b, 0)}, retries ${stats.retries}`,
  };
}

async function deliverWithSegment(label: string, event: (i: number) => BenchEvent): Promise<Delivery> {
  const peer = await startPeer("sink");
  let failures = 0;
  // Warm-up, as for the Tracker runs: the same client, untimed.
  const warmup = new Analytics({ writeKey: peer.apiKey, host: peer.url, flushAt: SEGMENT_FLUSH_AT });
  for (let i = 0; i < WARMUP_EVENTS; i++) {
    const e = event(E2E_EVENTS + i);
    warmup.track({ event: e.event, properties: e.properties, userId: e.userId }, (error) => {
      if (error) failures++;
    });
    if (i % CHUNK === CHUNK - 1) await yieldToLoop();
  }
  await warmup.closeAndFlush();
  const analytics = new Analytics({ writeKey: peer.apiKey, host: peer.url, flushAt: SEGMENT_FLUSH_AT });
  const receiverStart = await peer.cpu();
  const cpuStart = cpuMicros();
  const start = process.hrtime.bigint();
  for (let i = 0; i < E2E_EVENTS; i++) {
    const e = event(i);
    analytics.track({ event: e.event, properties: e.properties, userId: e.userId }, (error) => {
      if (error) failures++;
    });
    if (i % CHUNK === CHUNK - 1) await yieldToLoop();
  }
  await analytics.closeAndFlush();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const clientCpuUsPerEvent = (cpuMicros() - cpuStart) / E2E_EVENTS;
  const receiverCpu = receiverCpuPerEvent(receiverStart, await peer.cpu(), E2E_EVENTS);
  const received = await peer.count();
  await peer.close();
  return {
    label,
    seconds,
    eventsPerSecond: E2E_EVENTS / seconds,
    clientCpuUsPerEvent,
    receiverCpu,
    total: E2E_EVENTS,
    expected: E2E_EVENTS + WARMUP_EVENTS,
    received,
    requests: received.requests ?? 0,
    note: `delivery failures ${failures}`,
  };
}

function printRun(run: Delivery): void {
  const { events, distinctEventIds, correlationKept } = run.received;
  const complete =
    events === run.expected && (distinctEventIds ?? run.expected) === run.expected
      ? "all arrived once"
      : "MISMATCH";
  const ids = distinctEventIds === undefined ? "" : ` (${distinctEventIds} distinct ids)`;
  const expected = ` of ${run.expected} (${run.total} timed + ${run.expected - run.total} warm-up)`;
  const kept = run.serverStyle ? `, correlation kept on ${correlationKept ?? "?"} of ${events}` : "";
  console.log(
    `  ${run.label.padEnd(52)} ${fmt(run.eventsPerSecond).padStart(9)} events/s  ${fmt(run.seconds, 2)} s  client CPU ${fmt(run.clientCpuUsPerEvent, 1)} us/event  ${describeReceiverCpu(run.receiverCpu)}  ${run.requests} requests  received ${events}${ids}${expected} ${complete}${kept}; ${run.note}`,
  );
}

// ---------- 3. gzip level ----------

function gzipLevels(event: (i: number) => BenchEvent) {
  // The Tracker's own serializer and queue: the first full batch, byte for byte the body it sends.
  const serializer = new EventSerializer("bench-service", "bench");
  const queue = new BatchQueue(
    {
      flushAt: Number.POSITIVE_INFINITY,
      maxBatchBytes: MAX_BATCH_BYTES,
      maxQueueSize: Number.POSITIVE_INFINITY,
      maxQueueBytes: Number.POSITIVE_INFINITY,
    },
    serializer.batchContextJson,
  );
  for (let i = 0; queue.readyCount === 0; i++) {
    const e = event(i);
    const serialized = serializer.serialize(e.event, e.properties, { userId: e.userId }, undefined);
    if (!serialized.ok) throw new Error(serialized.message);
    queue.add(serialized.json, serialized.correlationId);
  }
  const batch = queue.takeReady()!;
  const body = batch.body(new Date().toISOString());
  return [1, 6].map((level) => {
    const repeats = 20;
    gzipSync(body, { level });
    const start = process.hrtime.bigint();
    let size = 0;
    for (let i = 0; i < repeats; i++) size = gzipSync(body, { level }).length;
    const ms = Number(process.hrtime.bigint() - start) / 1e6 / repeats;
    return {
      level,
      inputBytes: body.length,
      events: batch.count,
      outputBytes: size,
      ratio: body.length / size,
      ms,
    };
  });
}

// ---------- 5. receiver capacity ----------

/** Events per capacity run: ~100 batches of the Tracker's default size (2,000 events). */
const CAPACITY_EVENTS = 200_000;
/** Requests in flight, as the Tracker's default maxConcurrentRequests. */
const CAPACITY_IN_FLIGHT = TRACKER_DEFAULTS.maxConcurrentRequests;
/** Worker counts measured: in process, one worker (collector and s3rver apart), one per core. */
const CAPACITY_STACKS = STACKS.filter((stack) => stack.storage === MAIN_STORAGE);

/** Segment's median delivered rate from part 2, when it ran; part 5 measures its own otherwise. */
let lastSegmentRate: number | undefined;

/**
 * The request bodies the Tracker would send for `total` events of the traffic: its serializer, its
 * batch bounds (flushAt events or MAX_BATCH_BYTES) and its gzip level, built once before any timing.
 */
function prebuiltBatches(
  event: (i: number) => BenchEvent,
  total: number,
): { body: Buffer; events: number }[] {
  const serializer = new EventSerializer(undefined, undefined); // as the Tracker of part 2 (no service, no stage)
  // The Tracker's own queue: the same batch bounds and bodies it would send.
  const queue = new BatchQueue(
    {
      flushAt: TRACKER_DEFAULTS.flushAt,
      maxBatchBytes: MAX_BATCH_BYTES,
      maxQueueSize: Number.POSITIVE_INFINITY,
      maxQueueBytes: Number.POSITIVE_INFINITY,
    },
    serializer.batchContextJson,
  );
  for (let i = 0; i < total; i++) {
    const e = event(i);
    const serialized = serializer.serialize(e.event, e.properties, { userId: e.userId }, undefined);
    if (!serialized.ok) throw new Error(serialized.message);
    queue.add(serialized.json, serialized.correlationId);
  }
  queue.sealAll();
  const batches: { body: Buffer; events: number }[] = [];
  for (let batch = queue.takeReady(); batch !== undefined; batch = queue.takeReady()) {
    const body = gzipSync(batch.body(new Date().toISOString()), { level: GZIP_LEVEL });
    batches.push({ body, events: batch.count });
  }
  return batches;
}

/** Posts every batch once over keep-alive connections, CAPACITY_IN_FLIGHT at a time; checks each answer. */
async function postAll(peer: Peer, batches: { body: Buffer; events: number }[]): Promise<void> {
  const agent = new HttpAgent({ keepAlive: true, maxSockets: CAPACITY_IN_FLIGHT });
  const url = new URL("/v1/batch", peer.url);
  const post = (batch: { body: Buffer; events: number }) =>
    new Promise<void>((resolve, reject) => {
      const request = httpRequest(
        url,
        {
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-encoding": "gzip",
            "content-length": batch.body.length,
            "x-api-key": peer.apiKey,
          },
        },
        (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (text += chunk));
          response.on("end", () => {
            const accepted = (JSON.parse(text) as { accepted?: number }).accepted;
            if (response.statusCode === 200 && accepted === batch.events) resolve();
            else reject(new Error(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`));
          });
        },
      );
      request.on("error", reject);
      request.end(batch.body);
    });
  let next = 0;
  const lane = async () => {
    while (next < batches.length) await post(batches[next++]!);
  };
  try {
    await Promise.all(Array.from({ length: CAPACITY_IN_FLIGHT }, lane));
  } finally {
    agent.destroy();
  }
}

async function capacityPart(event: (i: number) => BenchEvent): Promise<void> {
  const batches = prebuiltBatches(event, CAPACITY_EVENTS);
  const warm = prebuiltBatches((i) => event(CAPACITY_EVENTS + i), WARMUP_EVENTS);
  const gzBytes = batches.reduce((sum, b) => sum + b.body.length, 0);
  console.log(
    `\n5. receiver capacity: ${CAPACITY_EVENTS} events in ${batches.length} pre-built gzip batches (${fmt(gzBytes / 1024 / 1024, 1)} MB, Tracker format) posted ${CAPACITY_IN_FLIGHT} in flight over keep-alive after ${WARMUP_EVENTS} warm-up events; ${E2E_ROUNDS} rounds`,
  );
  const segmentRate =
    lastSegmentRate ??
    (await deliverWithSegment(`Segment (flushAt ${SEGMENT_FLUSH_AT}) -> HTTP sink`, event)).eventsPerSecond;
  const rates = new Map<StackKind, number[]>(CAPACITY_STACKS.map((stack) => [stack, []]));
  for (let round = 0; round < E2E_ROUNDS; round++) {
    for (const stack of CAPACITY_STACKS) {
      const peer = await startPeer(stack);
      await postAll(peer, warm);
      const receiverStart = await peer.cpu();
      const cpuStart = cpuMicros();
      const start = process.hrtime.bigint();
      await postAll(peer, batches);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const clientCpu = (cpuMicros() - cpuStart) / CAPACITY_EVENTS;
      const receiverCpu = receiverCpuPerEvent(receiverStart, await peer.cpu(), CAPACITY_EVENTS);
      const received = await peer.count();
      await peer.close();
      const expected = CAPACITY_EVENTS + WARMUP_EVENTS;
      const complete =
        received.events === expected && received.distinctEventIds === expected
          ? "all arrived once"
          : "MISMATCH";
      rates.get(stack)!.push(CAPACITY_EVENTS / seconds);
      console.log(
        `  ${stackLabel(stack).padEnd(50)} ${fmt(CAPACITY_EVENTS / seconds).padStart(9)} events/s  ${fmt(seconds, 2)} s  load generator CPU ${fmt(clientCpu, 2)} us/event  ${describeReceiverCpu(receiverCpu)}  received ${received.events} (${received.distinctEventIds} distinct ids) of ${expected} ${complete}`,
      );
    }
  }
  for (const stack of CAPACITY_STACKS) {
    const rate = median(rates.get(stack)!);
    console.log(
      `  median ${stackLabel(stack).padEnd(48)} ${fmt(rate).padStart(9)} events/s = ${fmt(rate / segmentRate, 1)}x Segment's delivered ${fmt(segmentRate)}/s`,
    );
  }
}

// ---------- report ----------

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main() {
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(" ");
  console.log(
    `node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), load average ${load()}`,
  );
  console.log(
    `s3rver's data: ${RAM === undefined ? "no RAM directory (tmpfs) found: every stack on disk" : `in RAM = ${RAM.dir} (${RAM.fsType})`}; on disk = ${DISK.dir} (${DISK.fsType})`,
  );
  const event = makeTraffic();
  if (PARTS.has("1")) await callCostPart(event);
  if (PARTS.has("2")) await deliveryPart(event);
  if (PARTS.has("3")) await serverStylePart(event);
  if (PARTS.has("4")) gzipPart(event);
  if (PARTS.has("5")) await capacityPart(event);
}

async function callCostPart(event: (i: number) => BenchEvent): Promise<void> {
  console.log(
    `\n1. track() cost per call: ${CALLS} calls x ${CALL_ROUNDS} rounds: min / median (all rounds in brackets)`,
  );
  const sink = await startPeer("sink");
  const cost = await callCost(sink.url, event);
  await sink.close();
  const us = (ns: number[]) =>
    `${fmt(Math.min(...ns) / 1000, 2)} / ${fmt(median(ns) / 1000, 2)} us  [${ns.map((n) => fmt(n / 1000, 2)).join(", ")}]`;
  const column = (rounds: RoundCost[], key: keyof RoundCost) => rounds.map((r) => r[key]);
  const rows: [string, RoundCost[], keyof RoundCost][] = [
    ["harness  CPU,  loop + event factory ", cost.harness, "cpuSync"],
    ["Tracker  wall, sync call            ", cost.observatory, "wallSync"],
    ["Tracker  CPU,  sync call            ", cost.observatory, "cpuSync"],
    ["Tracker  CPU,  + deferred work      ", cost.observatory, "cpuSettled"],
    ["Segment  wall, sync call            ", cost.segment, "wallSync"],
    ["Segment  CPU,  sync call            ", cost.segment, "cpuSync"],
    ["Segment  CPU,  + deferred work      ", cost.segment, "cpuSettled"],
  ];
  for (const [label, rounds, key] of rows) console.log(`  ${label}  ${us(column(rounds, key))}`);
  const ratio = (key: keyof RoundCost) => {
    const a = column(cost.segment, key);
    const b = column(cost.observatory, key);
    return `${fmt(Math.min(...a) / Math.min(...b), 1)}x / ${fmt(median(a) / median(b), 1)}x`;
  };
  console.log(
    `  ratio Segment/Tracker (min / median): wall sync ${ratio("wallSync")}, CPU sync ${ratio("cpuSync")}, CPU + deferred ${ratio("cpuSettled")}`,
  );
  // The Tracker does all its per-event work (serialize, size check, enqueue) inside track(): its sync
  // call is the cost the goal is about. Its deferred work is the start of sending (measured in part 2).
  const verdict = (ns: number) => `${ns < 2000 ? "MET" : "NOT MET"} (${fmt(ns / 1000, 2)} us)`;
  const net = median(column(cost.observatory, "cpuSync")) - median(column(cost.harness, "cpuSync"));
  console.log(
    `  goal track() < 2 us: wall min ${verdict(Math.min(...column(cost.observatory, "wallSync")))}, wall median ${verdict(median(column(cost.observatory, "wallSync")))}, CPU median net of harness ${verdict(net)}`,
  );
}

async function deliveryPart(event: (i: number) => BenchEvent): Promise<void> {
  console.log(
    `\n2. events/s delivered end to end: Segment ${E2E_EVENTS} / Tracker ${TRACKER_E2E_EVENTS} events per run after ${WARMUP_EVENTS} warm-up events, ${E2E_ROUNDS} rounds, receiver in its own process`,
  );
  const runs: Delivery[] = [];
  const toStack = (stack: StackKind) => `Tracker (defaults) -> ${stackLabel(stack)}`;
  for (let round = 0; round < E2E_ROUNDS; round++) {
    runs.push(await deliverWithSegment(`Segment (flushAt ${SEGMENT_FLUSH_AT}) -> HTTP sink`, event));
    runs.push(await deliverWithTracker("Tracker (defaults) -> HTTP sink", "sink", event));
    for (const stack of STACKS) runs.push(await deliverWithTracker(toStack(stack), stack, event));
  }
  for (const run of runs) printRun(run);
  const ofLabel = (label: string) => runs.filter((r) => r.label === label);
  const rate = (label: string) => median(ofLabel(label).map((r) => r.eventsPerSecond));
  const cpu = (label: string) => median(ofLabel(label).map((r) => r.clientCpuUsPerEvent));
  const segmentLabel = `Segment (flushAt ${SEGMENT_FLUSH_AT}) -> HTTP sink`;
  const sinkLabel = "Tracker (defaults) -> HTTP sink";
  const segmentRate = rate(segmentLabel);
  lastSegmentRate = segmentRate;
  console.log(
    `  medians: Segment ${fmt(segmentRate)}/s (client CPU ${fmt(cpu(segmentLabel), 1)} us/event), Tracker->sink ${fmt(rate(sinkLabel))}/s = ${fmt(rate(sinkLabel) / segmentRate, 1)}x (client CPU ${fmt(cpu(sinkLabel), 1)} us/event)`,
  );
  const best: Record<Storage, number> = { ram: 0, disk: 0 };
  for (const stack of STACKS) {
    const label = toStack(stack);
    const receiver = ofLabel(label).map((r) => r.receiverCpu.selfUs + r.receiverCpu.workersUs);
    best[stack.storage] = Math.max(best[stack.storage], rate(label));
    // With every core busy on this pipeline and nothing else, the rate cannot exceed cores / CPU per event.
    const ceiling = (cpus().length * 1e6) / (cpu(label) + median(receiver));
    console.log(
      `  median Tracker -> ${stackLabel(stack).padEnd(48)} ${fmt(rate(label)).padStart(9)}/s = ${fmt(rate(label) / segmentRate, 1)}x Segment  (client CPU ${fmt(cpu(label), 1)} + receiver CPU ${fmt(median(receiver), 1)} us/event: at most ${fmt(ceiling)}/s = ${fmt(ceiling / segmentRate, 1)}x on ${cpus().length} cores)`,
    );
  }
  for (const storage of ["ram", "disk"] as const) {
    const stacks = STACKS.filter((stack) => stack.storage === storage);
    if (stacks.length === 0) continue;
    const ratio = best[storage] / segmentRate;
    console.log(
      `  goal >= 10x Segment through the real collector, s3rver's data ${storage === "ram" ? "in RAM" : "on disk"} (best of ${stacks.map((s) => s.workers).join(", ")} workers): ${ratio >= 10 ? "MET" : "NOT MET"} (${fmt(ratio, 1)}x)`,
    );
  }
}

/** Part 3's stack: the default one (collector in the stack's process). */
const SERVER_STYLE_STACK: StackKind = { workers: 0, storage: MAIN_STORAGE };

async function serverStylePart(event: (i: number) => BenchEvent): Promise<void> {
  const serverEvents = E2E_EVENTS / 5;
  console.log(
    `\n3. server-style traffic to the collector: ${serverEvents} events, ${CONCURRENT_REQUESTS} requests in progress at once, ${REQUEST_EVENTS} events each`,
  );
  // Alternating, so both runs see the same machine load; the baseline carries no correlation IDs at all.
  for (let round = 0; round < 2; round++) {
    printRun(
      await deliverWithTracker("Tracker, 50 correlation IDs in flight", SERVER_STYLE_STACK, event, {
        events: serverEvents,
        serverStyle: true,
      }),
    );
    printRun(
      await deliverWithTracker("Tracker, same traffic, no IDs (baseline)", SERVER_STYLE_STACK, event, {
        events: serverEvents,
      }),
    );
  }
}

function gzipPart(event: (i: number) => BenchEvent): void {
  console.log("\n4. gzip of one full batch (why GZIP_LEVEL = 1)");
  for (const g of gzipLevels(event)) {
    console.log(
      `  level ${g.level}: ${fmt(g.inputBytes)} bytes (${g.events} events) -> ${fmt(g.outputBytes)} bytes, ratio ${fmt(g.ratio, 1)}x, ${fmt(g.ms, 2)} ms`,
    );
  }
}

await main();
console.log(
  `\nload average at the end: ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
