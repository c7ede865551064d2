/**
 * `observatory demo`: realistic traffic through the Tracker into the local pipeline, then what landed
 * where. It uses a running `observatory dev` when one is found (--endpoint, the data directory's
 * stack.json, the default port: local/stack-connection.ts); otherwise it starts the local stack in
 * this process on free ports over the data directory and stops it at the end.
 *
 * The demo is a list of steps sharing one DemoContext. Later steps (H7: run compaction and print the
 * named queries; H5: a three-service trace) append to DEMO_STEPS: one import + one entry.
 * `--format json`: the prose goes to stderr and stdout gets ONE JSON document (DemoContext.report).
 */

import { constants } from "node:os";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import cliProgress from "cli-progress";
import { type Command, Option } from "commander";
import type { QuarantineRecord, RawEventRecord } from "../../contracts/event-record.js";
import { LOCAL_API_KEY, LOCAL_BUCKET } from "../../contracts/local-stack.js";
import { hourPartition, QUARANTINE_PREFIX, RAW_PREFIX } from "../../contracts/storage-layout.js";
import { badDemoTraffic, demoTraffic } from "../../local/demo-traffic.js";
import { useStackSchemas } from "../../local/event-schemas.js";
import { listKeys, readNdjsonGzMany } from "../../local/s3-ndjson.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import {
  addLocalStackOptions,
  dataDirOf,
  findRunningCollector,
  type OpenedPeer,
  openLocalDynamoDB,
  openLocalS3,
} from "../../local/stack-connection.js";
import { listenForStop } from "../../local/stop-signals.js";
import { Tracker } from "../../runtime/tracker.js";
import { TRACKER_DEFAULTS, type TrackerStats } from "../../runtime/tracker-options.js";
import { formatRows } from "../format.js";
import { compactionDemoStep } from "./demo-compaction.js";
import { traceDemoStep } from "./demo-trace.js";

/** How often the delivery progress bar is refreshed. */
const PROGRESS_INTERVAL_MS = 100;
/**
 * The demo waits for the Tracker to deliver what it queued once this fraction of the queue's bound
 * is waiting: track() never waits and drops the newest event at the bound, and the demo enqueues far
 * faster than one collector accepts (back pressure, so `--events` of any size loses nothing).
 */
const QUEUE_HIGH_WATER_FRACTION = 0.5;

/** The demo prints several tables: a table view, or one JSON document (csv cannot hold them). */
export type DemoFormat = "table" | "json";

export interface DemoOptions {
  events: number;
  seed: number;
  /** Collector, S3 and DynamoDB of a running stack; found through dataDir when absent. */
  endpoint?: string;
  s3Endpoint?: string;
  dynamodbEndpoint?: string;
  /** Default: the running stack's (stack.json), else LOCAL_API_KEY. */
  apiKey?: string;
  dataDir?: string;
  format: DemoFormat;
  /** The demo Tracker's queue bound (default the Tracker's own); not a CLI flag: tests use a small one. */
  maxQueueSize?: number;
  /**
   * Stops the demo early (the CLI aborts it on Ctrl-C, SIGTERM, SIGHUP): the traffic stops between two
   * events and what was tracked is still delivered; later steps are skipped (a step in progress ends
   * first). The demo then throws DemoStopped, after closing the stack it started.
   */
  signal?: AbortSignal;
}

/** The demo was stopped through `DemoOptions.signal` before it finished; the message says how far it got. */
export class DemoStopped extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DemoStopped";
  }
}

/** What every step can use. `results` carries what one step found for the next. */
export interface DemoContext {
  options: DemoOptions;
  /** Collector base URL (the Tracker posts to `${endpoint}/v1/batch`). */
  endpoint: string;
  apiKey: string;
  dataDir: string;
  s3: S3Client;
  s3Endpoint: string;
  /** DynamoDB of the stack in use (the running dev's, or the in-process one's). */
  dynamodb: DynamoDBClient;
  dynamodbEndpoint: string;
  bucket: string;
  /** When the traffic started: objects received since then are this run's. */
  startedAt: Date;
  /** The stack this process started, or undefined when a running `observatory dev` is used. */
  stack?: LocalStack;
  results: Record<string, unknown>;
  /** What `--format json` prints: each step adds its part under its own key. */
  report: Record<string, unknown>;
  /** Prose: stdout in the table view, stderr with --format json. */
  print(text?: string): void;
  /** A table in the table view (nothing with --format json: the step puts the rows in `report`). */
  table(rows: Record<string, unknown>[], columns: string[]): void;
}

export interface DemoStep {
  title: string;
  run(context: DemoContext): Promise<void>;
}

/** Keys of this run's objects in a zone: only the hour partitions since the start, received since then. */
async function keysSince(context: DemoContext, zone: string): Promise<string[]> {
  const keys: string[] = [];
  const startMs = context.startedAt.getTime();
  for (let hour = startMs - (startMs % 3_600_000); hour <= Date.now(); hour += 3_600_000) {
    const prefix = `${zone}${hourPartition(new Date(hour)).path}`;
    for (const key of await listKeys(context.s3, context.bucket, prefix)) {
      // Keys are `<received_at ms>-<request id>.ndjson.gz`.
      const receivedMs = Number(key.slice(prefix.length).split("-")[0]);
      if (receivedMs >= startMs) keys.push(key);
    }
  }
  return keys;
}

/** A body no Tracker would send: the collector answers 400 and quarantines it whole. */
const BROKEN_BODY = '{"batch": [{"event": "search_made", "user_id": "1001", "properties": {"query": "cats"';

export const sendTrafficStep: DemoStep = {
  title: "Send traffic through the Tracker",
  async run(context) {
    // Sent first: it also checks the API key, so a refused key stops the demo before any traffic.
    const broken = await fetch(`${context.endpoint}/v1/batch`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": context.apiKey,
        "x-correlation-id": "demo-broken-body",
      },
      body: BROKEN_BODY,
    });
    const brokenAnswer = await broken.text();
    if (broken.status === 401) {
      throw new Error(
        `the collector at ${context.endpoint} refused API key ${JSON.stringify(context.apiKey)} (HTTP 401): pass --api-key <the key \`observatory dev\` printed>`,
      );
    }
    context.print(`A truncated JSON body sent by hand: HTTP ${broken.status} ${brokenAnswer}`);

    const good = demoTraffic({ events: context.options.events, seed: context.options.seed });
    const bad = badDemoTraffic();
    const users = new Set(good.map((c) => c.options.userId)).size;
    context.print(
      `${good.length} events from ${users} users (searches, image downloads and uploads over the last 3 hours), plus ${bad.length} deliberately bad ones.`,
    );
    const rejections: string[] = [];
    const maxQueueSize = context.options.maxQueueSize ?? TRACKER_DEFAULTS.maxQueueSize;
    const tracker = new Tracker({
      endpoint: context.endpoint,
      apiKey: context.apiKey,
      maxQueueSize,
      flushAt: Math.min(100, maxQueueSize),
      service: "demo-image-site",
      stage: "local",
      onError: (error) => rejections.push(error.message),
    });
    const bar = new cliProgress.SingleBar(
      { format: "  delivered {bar} {value}/{total} events", hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    const total = good.length + bad.length;
    bar.start(total, 0);
    const timer = setInterval(() => {
      const stats = tracker.stats();
      bar.update(stats.accepted + stats.rejected);
    }, PROGRESS_INTERVAL_MS);
    const highWater = Math.max(1, Math.floor(maxQueueSize * QUEUE_HIGH_WATER_FRACTION));
    const { signal } = context.options;
    let tracked = 0;
    for (const call of [...good, ...bad]) {
      if (signal?.aborted) break;
      if (tracker.stats().queued >= highWater) await tracker.flush();
      tracker.track(call.event, call.properties, call.options);
      tracked++;
    }
    // Also when stopped: what was tracked is delivered before the stack it goes to is closed.
    await tracker.close();
    clearInterval(timer);
    const stats = tracker.stats();
    bar.update(stats.accepted + stats.rejected);
    bar.stop();
    if (tracked < total) {
      throw new DemoStopped(
        `stopped after tracking ${tracked} of ${total} events; those were delivered (${stats.accepted} accepted, ${stats.rejected} rejected, ${stats.requests} requests)`,
      );
    }

    context.results.trackerStats = stats;
    context.results.expectedRejections = bad.map((c) => c.expectedRejection);
    const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0);
    context.report.tracker = { ...stats, broken_body_status: broken.status };
    context.print(
      `Tracker: ${stats.requests} requests, ${stats.accepted} accepted, ${stats.rejected} rejected, ${stats.retries} retries, ${dropped} dropped.`,
    );
    failOnDropped(stats);
  },
};

/** A demo that loses events has failed: says how many and why, so the command exits non-zero. */
export function failOnDropped(stats: TrackerStats): void {
  const reasons = Object.entries(stats.dropped).filter(([, n]) => n > 0);
  if (reasons.length === 0) return;
  const total = reasons.reduce((sum, [, n]) => sum + n, 0);
  throw new Error(
    `the Tracker dropped ${total} events (${reasons.map(([reason, n]) => `${reason}: ${n}`).join(", ")}): the demo lost events`,
  );
}

export const reportLandedStep: DemoStep = {
  title: "What landed where",
  async run(context) {
    const rawKeys = await keysSince(context, RAW_PREFIX);
    const raw = (await readNdjsonGzMany<RawEventRecord>(context.s3, context.bucket, rawKeys)).flatMap(
      (o) => o.lines,
    );
    const ids = new Set(raw.map((r) => r.event_id));
    context.print(
      `Raw zone s3://${context.bucket}/${RAW_PREFIX} (${context.s3Endpoint}): ${rawKeys.length} objects, ${raw.length} events, ${ids.size} distinct event_ids.`,
    );
    const byEvent = new Map<string, { events: number; users: Set<string>; bytes: number }>();
    for (const r of raw) {
      const entry = byEvent.get(r.event) ?? { events: 0, users: new Set<string>(), bytes: 0 };
      entry.events++;
      if (r.user_id) entry.users.add(r.user_id);
      if (typeof r.properties.image_size === "number") entry.bytes += r.properties.image_size;
      byEvent.set(r.event, entry);
    }
    const rows = [...byEvent].map(([event, e]) => ({
      event,
      events: e.events,
      users: e.users.size,
      image_bytes_total: e.bytes,
    }));
    context.table(rows, ["event", "events", "users", "image_bytes_total"]);

    const quarantineKeys = await keysSince(context, QUARANTINE_PREFIX);
    const quarantined = (
      await readNdjsonGzMany<QuarantineRecord>(context.s3, context.bucket, quarantineKeys)
    ).flatMap((o) => o.lines);
    context.print();
    context.print(
      `Quarantine s3://${context.bucket}/${QUARANTINE_PREFIX}: ${quarantineKeys.length} objects, ${quarantined.length} items.`,
    );
    const qRows = quarantined.map((q) => ({
      status: q.status,
      index: q.index ?? "body",
      event: q.event ?? null,
      reasons: q.reasons,
    }));
    context.table(
      qRows.map((q) => ({ ...q, reasons: q.reasons.join("; ") })),
      ["status", "index", "event", "reasons"],
    );
    context.report.raw = {
      bucket: context.bucket,
      objects: rawKeys.length,
      events: raw.length,
      distinct_event_ids: ids.size,
      by_event: rows,
    };
    context.report.quarantine = { objects: quarantineKeys.length, items: qRows };
    context.results.raw = raw;
    context.results.quarantined = quarantined;
  },
};

/** The demo, in order. Append steps here (one import + one entry). */
export const DEMO_STEPS: DemoStep[] = [sendTrafficStep, reportLandedStep, compactionDemoStep, traceDemoStep];

export async function runDemo(
  options: DemoOptions,
  steps: readonly DemoStep[] = DEMO_STEPS,
): Promise<DemoContext> {
  const json = options.format === "json";
  const print = (text = "") => (json ? process.stderr.write(`${text}\n`) : console.log(text));
  const dataDir = dataDirOf(options);
  const report: Record<string, unknown> = {};
  const closers: (() => Promise<void>)[] = [];
  try {
    const notes: string[] = [];
    const running = await findRunningCollector(options, notes);
    let stack: LocalStack | undefined;
    let endpoint: string;
    let s3: OpenedPeer<S3Client> | undefined;
    let dynamodb: OpenedPeer<DynamoDBClient> | undefined;
    const apiKey = options.apiKey ?? running?.apiKey ?? LOCAL_API_KEY;
    if (running) {
      endpoint = running.endpoint;
      s3 = await openLocalS3(options);
      closers.push(() => s3!.close());
      dynamodb = await openLocalDynamoDB(options);
      closers.push(() => dynamodb!.close());
      if (!s3.running || !dynamodb.running) {
        throw new Error(
          `a collector runs at ${endpoint} but not its ${s3.running ? "DynamoDB" : "S3"}: pass --s3-endpoint and --dynamodb-endpoint (what \`observatory dev\` printed), or --data-dir of that stack`,
        );
      }
      print(`Using the running local stack:\n  ${running.note}\n  ${s3.note}\n  ${dynamodb.note}`);
      // Its compaction step writes the per-event tables of the schemas that stack declared.
      useStackSchemas(dataDir);
    } else {
      for (const note of notes) print(note);
      // Free ports: nothing can clash, and the stack is this process's alone (it leaves stack.json
      // in the data directory while it runs, so other commands find it meanwhile).
      print(
        `No running local stack found: starting one in this process (data in ${dataDir}; it stops when the demo ends).`,
      );
      stack = await startLocalStack({
        dataDir,
        apiKey,
        collectorPort: 0,
        s3Port: 0,
        dynamoPort: 0,
        quiet: true,
      });
      closers.push(() => stack!.close());
      endpoint = stack.collector.url;
    }
    report.stack = {
      collector: endpoint,
      s3: s3?.endpoint ?? stack!.s3.endpoint,
      dynamodb: dynamodb?.endpoint ?? stack!.dynamodb.endpoint,
      started_by_demo: stack !== undefined,
    };
    const context: DemoContext = {
      options,
      endpoint,
      apiKey,
      dataDir,
      s3: s3?.client ?? stack!.s3.client,
      s3Endpoint: s3?.endpoint ?? stack!.s3.endpoint,
      dynamodb: dynamodb?.client ?? stack!.dynamodb.client,
      dynamodbEndpoint: dynamodb?.endpoint ?? stack!.dynamodb.endpoint,
      bucket: stack?.bucket ?? LOCAL_BUCKET,
      startedAt: new Date(),
      stack,
      results: {},
      report,
      print,
      table: (rows, columns) => {
        if (!json) print(formatRows(rows, "table", columns));
      },
    };
    for (const [i, step] of steps.entries()) {
      if (options.signal?.aborted) throw new DemoStopped(`stopped before step ${i + 1} (${step.title})`);
      print();
      print(`== ${i + 1}. ${step.title}`);
      await step.run(context);
    }
    if (json) console.log(JSON.stringify(report, (_k, v) => (typeof v === "bigint" ? Number(v) : v), 2));
    return context;
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
  }
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`not a positive integer: ${value}`);
  return n;
}

export function registerDemoCommand(program: Command): void {
  const command = program
    .command("demo")
    .description(
      "send realistic traffic through the Tracker to the local pipeline and show what landed where",
    )
    .option("--events <n>", "good events to send", positiveInteger, 1000)
    .option("--seed <n>", "traffic seed (the same seed sends the same traffic)", positiveInteger, 42)
    .option(
      "--api-key <key>",
      `x-api-key for the collector (default: the running stack's, else ${LOCAL_API_KEY})`,
    )
    .addOption(
      new Option(
        "--format <format>",
        "table: the tour as text; json: the prose on stderr, ONE JSON document on stdout",
      )
        .choices(["table", "json"])
        .default("table"),
    );
  addLocalStackOptions(command, { collector: true, dynamodb: true }).action(async (options: DemoOptions) => {
    // Ctrl-C (or SIGTERM, SIGHUP, closed output) stops the demo in order: the traffic stops, what was
    // tracked is delivered, the stack it started is closed (stack.json removed). A second Ctrl-C
    // later than a second exits at once (local/stop-signals.ts).
    const stopping = listenForStop();
    const controller = new AbortController();
    void stopping.reason.then((reason) => {
      process.stderr.write(`\n${reason}: stopping the demo (Ctrl-C again to exit at once)...\n`);
      controller.abort(reason);
    });
    try {
      await runDemo({ ...options, signal: controller.signal });
    } catch (error) {
      if (!(error instanceof DemoStopped)) throw error;
      console.error(`observatory demo: ${error.message}`);
      // As a shell reports a command ended by the signal: 128 + its number (SIGINT: 130).
      const signal = constants.signals[controller.signal.reason as keyof typeof constants.signals];
      process.exitCode = signal === undefined ? 1 : 128 + signal;
    } finally {
      stopping.dispose();
    }
  });
}
