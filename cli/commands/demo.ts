/**
 * `observatory demo`: realistic traffic through the Tracker into the local pipeline, then what landed
 * where. It talks to a running `observatory dev` when one answers on --endpoint; otherwise it starts
 * the local stack in this process (same ports and data directory) and stops it at the end.
 *
 * The demo is a list of steps sharing one DemoContext. Later steps (H7: run compaction and print the
 * named queries; H5: a three-service trace) append to DEMO_STEPS: one import + one entry.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import type { QuarantineRecord, RawEventRecord } from "../../contracts/event-record.js";
import {
  LOCAL_API_KEY,
  LOCAL_BUCKET,
  LOCAL_COLLECTOR_PORT,
  LOCAL_DATA_DIR,
  LOCAL_DYNAMODB_PORT,
  LOCAL_S3_PORT,
} from "../../contracts/local-stack.js";
import { hourPartition, QUARANTINE_PREFIX, RAW_PREFIX } from "../../contracts/storage-layout.js";
import { badDemoTraffic, demoTraffic } from "../../local/demo-traffic.js";
import { listKeys, readNdjsonGzMany } from "../../local/s3-ndjson.js";
import { localS3Client } from "../../local/s3-server.js";
import { type LocalStack, startLocalStack } from "../../local/stack.js";
import { Tracker } from "../../runtime/tracker.js";
import { formatOption, formatRows, type OutputFormat } from "../format.js";
import { compactionDemoStep } from "./demo-compaction.js";
import { traceDemoStep } from "./demo-trace.js";

/** How long a running collector has to answer /v1/health before the demo starts its own stack. */
const HEALTH_TIMEOUT_MS = 1_000;
/** How often the delivery progress bar is refreshed. */
const PROGRESS_INTERVAL_MS = 100;

export interface DemoOptions {
  events: number;
  seed: number;
  endpoint: string;
  s3Endpoint: string;
  dynamodbEndpoint: string;
  apiKey: string;
  dataDir: string;
  format: OutputFormat;
}

/** What every step can use. `results` carries what one step found for the next. */
export interface DemoContext {
  options: DemoOptions;
  /** Collector base URL (the Tracker posts to `${endpoint}/v1/batch`). */
  endpoint: string;
  s3: S3Client;
  s3Endpoint: string;
  /** DynamoDB of the stack in use (the running dev's, or the in-process one's). */
  dynamodbEndpoint: string;
  bucket: string;
  /** When the traffic started: objects received since then are this run's. */
  startedAt: Date;
  /** The stack this process started, or undefined when a running `observatory dev` is used. */
  stack?: LocalStack;
  results: Record<string, unknown>;
  print(text?: string): void;
}

export interface DemoStep {
  title: string;
  run(context: DemoContext): Promise<void>;
}

async function isCollectorRunning(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/v1/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    return response.ok;
  } catch {
    return false;
  }
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

export const sendTrafficStep: DemoStep = {
  title: "Send traffic through the Tracker",
  async run(context) {
    const good = demoTraffic({ events: context.options.events, seed: context.options.seed });
    const bad = badDemoTraffic();
    const users = new Set(good.map((c) => c.options.userId)).size;
    context.print(
      `${good.length} events from ${users} users (searches, image downloads and uploads over the last 3 hours), plus ${bad.length} deliberately bad ones.`,
    );
    const rejections: string[] = [];
    const tracker = new Tracker({
      endpoint: context.endpoint,
      apiKey: context.options.apiKey,
      flushAt: 100,
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
    for (const call of [...good, ...bad]) tracker.track(call.event, call.properties, call.options);
    await tracker.close();
    clearInterval(timer);
    const stats = tracker.stats();
    bar.update(stats.accepted + stats.rejected);
    bar.stop();

    // A body no Tracker would send: the collector answers 400 and quarantines it whole.
    const broken = await fetch(`${context.endpoint}/v1/batch`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": context.options.apiKey,
        "x-correlation-id": "demo-broken-body",
      },
      body: '{"batch": [{"event": "search_made", "user_id": "1001", "properties": {"query": "cats"',
    });
    context.print(`A truncated JSON body sent by hand: HTTP ${broken.status} ${await broken.text()}`);
    context.results.trackerStats = stats;
    context.results.expectedRejections = bad.map((c) => c.expectedRejection);
    const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0);
    context.print(
      `Tracker: ${stats.requests} requests, ${stats.accepted} accepted, ${stats.rejected} rejected, ${stats.retries} retries, ${dropped} dropped.`,
    );
  },
};

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
      image_bytes_total: e.bytes || "",
    }));
    context.print(
      formatRows(rows, context.options.format, ["event", "events", "users", "image_bytes_total"]),
    );

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
      event: q.event ?? "",
      reasons: q.reasons.join("; "),
    }));
    context.print(formatRows(qRows, context.options.format, ["status", "index", "event", "reasons"]));
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
  const print = (text = "") => console.log(text);
  let stack: LocalStack | undefined;
  let endpoint = options.endpoint.replace(/\/+$/, "");
  let s3Endpoint = options.s3Endpoint;
  let dynamodbEndpoint = options.dynamodbEndpoint;
  if (await isCollectorRunning(endpoint)) {
    print(`Using the running local stack: collector ${endpoint}, S3 ${s3Endpoint}.`);
  } else {
    print(
      `No collector answers at ${endpoint}: starting the local stack in this process (data in ${options.dataDir}; it stops when the demo ends).`,
    );
    stack = await startLocalStack({
      dataDir: options.dataDir,
      apiKey: options.apiKey,
      collectorPort: Number(new URL(endpoint).port || LOCAL_COLLECTOR_PORT),
      s3Port: Number(new URL(s3Endpoint).port || LOCAL_S3_PORT),
      dynamoPort: Number(new URL(dynamodbEndpoint).port || LOCAL_DYNAMODB_PORT),
      quiet: true,
    });
    endpoint = stack.collector.url;
    s3Endpoint = stack.s3.endpoint;
    dynamodbEndpoint = stack.dynamodb.endpoint;
  }
  const s3 = stack?.s3.client ?? localS3Client(s3Endpoint);
  const context: DemoContext = {
    options,
    endpoint,
    s3,
    s3Endpoint,
    dynamodbEndpoint,
    bucket: stack?.bucket ?? LOCAL_BUCKET,
    startedAt: new Date(),
    stack,
    results: {},
    print,
  };
  try {
    for (const [i, step] of steps.entries()) {
      print();
      print(`== ${i + 1}. ${step.title}`);
      await step.run(context);
    }
  } finally {
    if (stack) await stack.close();
    else s3.destroy();
  }
  return context;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`not a positive integer: ${value}`);
  return n;
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "send realistic traffic through the Tracker to the local pipeline and show what landed where",
    )
    .option("--events <n>", "good events to send", positiveInteger, 1000)
    .option("--seed <n>", "traffic seed (the same seed sends the same traffic)", positiveInteger, 42)
    .option(
      "--endpoint <url>",
      "collector of a running `observatory dev`",
      `http://127.0.0.1:${LOCAL_COLLECTOR_PORT}`,
    )
    .option("--s3-endpoint <url>", "S3 of a running `observatory dev`", `http://127.0.0.1:${LOCAL_S3_PORT}`)
    .option(
      "--dynamodb-endpoint <url>",
      "DynamoDB of a running `observatory dev`",
      `http://127.0.0.1:${LOCAL_DYNAMODB_PORT}`,
    )
    .option("--api-key <key>", "x-api-key for the collector", LOCAL_API_KEY)
    .option("--data-dir <dir>", "data directory when the demo starts its own stack", LOCAL_DATA_DIR)
    .addOption(formatOption())
    .action(async (options: DemoOptions) => {
      await runDemo(options);
    });
}
