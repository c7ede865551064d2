// The receiving side of bench/tracker.bench.ts, in its own process so that it does not share the
// client's event loop (the machine has 2 cores: one for the client, one for the receiver).
//   tracker-peer.ts sink   -> an HTTP endpoint that accepts any /v1/batch body (gzip or not) with 200
//   tracker-peer.ts stack [N] [DIR] -> the real local stack (s3rver + collector behind the local API Gateway),
//                               with N collector worker processes (`observatory dev --workers N`; 0 = in process),
//                               its data in a new directory under DIR (default: the OS temp directory)
// Talks over IPC: sends { url, apiKey } when ready; answers "count" with what arrived, "cpu" with the CPU
// time it and its collector workers have used (PeerCpu); exits on "close".
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { RAW_PREFIX } from "../contracts/storage-layout.js";
import { startLocalStack } from "../local/stack.js";
import { startSink } from "../test/tracker-sink.js";

export interface PeerCount {
  /** Events received (sink) or lines in the raw zone (stack). */
  events: number;
  /** Distinct event ids among them (stack only: a duplicate would show here). */
  distinctEventIds?: number;
  requests?: number;
  /** Lines whose correlation_id is the one the event carried in context.correlation_id (stack only). */
  correlationKept?: number;
}

/** CPU time of the receiving side so far: this process, and its collector workers (stack with workers). */
export interface PeerCpu {
  selfMicros: number;
  workersMicros: number;
}

type Message = "count" | "cpu" | "close";

/** Kernel clock ticks per second (USER_HZ): /proc/<pid>/stat counts CPU time in these. */
const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU of a live child process, from /proc (Linux); 0 where that cannot be read. */
function childCpuMicros(pid: number): number {
  try {
    // Fields after "(comm) ": state is [0], utime [11], stime [12].
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function ownCpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function main(kind: string, workers: number, storageParent: string): Promise<void> {
  const send = (value: unknown) => process.send?.(value);
  if (kind === "sink") {
    const sink = await startSink(undefined, { keepBodies: false });
    send({ url: sink.url, apiKey: "bench-key" });
    process.on("message", async (message: Message) => {
      if (message === "count")
        send({ events: sink.eventCount(), requests: sink.requests.length } satisfies PeerCount);
      if (message === "cpu") send({ selfMicros: ownCpuMicros(), workersMicros: 0 } satisfies PeerCpu);
      if (message === "close") {
        await sink.close();
        process.exit(0);
      }
    });
    return;
  }
  if (kind === "stack") {
    const dataDir = await mkdtemp(join(storageParent, "observatory-tracker-bench-"));
    const stack = await startLocalStack({
      dataDir,
      s3Port: 0,
      collectorPort: 0,
      dynamoPort: 0,
      quiet: true,
      workers,
    });
    send({ url: stack.collector.url, apiKey: stack.apiKey });
    process.on("message", async (message: Message) => {
      if (message === "count") send(await countRaw(stack.s3.client, stack.bucket));
      if (message === "cpu")
        send({
          selfMicros: ownCpuMicros(),
          workersMicros: stack.collector.workerPids().reduce((sum, pid) => sum + childCpuMicros(pid), 0),
        } satisfies PeerCpu);
      if (message === "close") {
        await stack.close();
        await rm(dataDir, { recursive: true, force: true });
        process.exit(0);
      }
    });
    return;
  }
  throw new Error(`usage: tracker-peer.ts sink|stack (got ${kind})`);
}

/** Reads back every raw object: the events that really landed, and whether any landed twice. */
async function countRaw(s3: S3Client, bucket: string): Promise<PeerCount> {
  const ids = new Set<string>();
  let events = 0;
  let requests = 0;
  let correlationKept = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: RAW_PREFIX, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      const lines = gunzipSync(await got.Body!.transformToByteArray())
        .toString("utf8")
        .split("\n")
        .filter(Boolean);
      requests++;
      for (const line of lines) {
        events++;
        const record = JSON.parse(line) as {
          event_id: string;
          correlation_id: string;
          context: { correlation_id?: string };
        };
        ids.add(record.event_id);
        if (record.correlation_id === record.context.correlation_id) correlationKept++;
      }
    }
    token = page.NextContinuationToken;
  } while (token);
  return { events, distinctEventIds: ids.size, requests, correlationKept };
}

main(process.argv[2] ?? "", Number(process.argv[3] ?? 0), process.argv[4] ?? tmpdir()).catch(
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
