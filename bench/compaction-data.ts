// Realistic raw-zone input for the compaction benchmarks: what the collector writes for a mix of
// searches, image downloads/uploads and page views by a few thousand users, with client retries.
import { randomUUID } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { RawEventRecord } from "../contracts/event-record.js";
import { rawObjectKey } from "../contracts/storage-layout.js";

const QUERIES = [
  "sunset over the sea",
  "chat noir",
  "café au lait",
  "東京 夜景",
  "mountain lake",
  "neon city",
  "résumé template",
  "dog running",
  "🚀 launch",
  "old map of paris",
];
const AGENTS = [
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
  "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
  "observatory-tracker/0.1 node/20.20",
];
/** Share of lines that repeat an earlier event_id (a client retry the collector accepted twice). */
const DUPLICATE_SHARE = 0.01;

/** Deterministic pseudo-random numbers, so two runs benchmark the same bytes. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function* generateEvents(
  count: number,
  options: { start: Date; hours: number; seed?: number },
): Generator<RawEventRecord> {
  const random = rng(options.seed ?? 42);
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)] as T;
  const recent: RawEventRecord[] = [];
  for (let i = 0; i < count; i++) {
    if (recent.length > 0 && random() < DUPLICATE_SHARE) {
      yield pick(recent);
      continue;
    }
    const at = new Date(options.start.getTime() + Math.floor((i / count) * options.hours * 3_600_000));
    const user = `user-${Math.floor(random() * 5000)}`;
    const kind = random();
    const [event, properties]: [string, Record<string, unknown>] =
      kind < 0.3
        ? ["search_made", { query: pick(QUERIES), n_results: Math.floor(random() * 200) }]
        : kind < 0.55
          ? [
              "downloaded_img",
              {
                image_id: `img-${Math.floor(random() * 100_000)}`,
                image_size: Math.floor(random() * 5_000_000),
              },
            ]
          : kind < 0.65
            ? [
                "uploaded_img",
                {
                  image_id: `img-${Math.floor(random() * 100_000)}`,
                  image_size: Math.floor(random() * 5_000_000),
                },
              ]
            : [
                "page_viewed",
                {
                  path: `/gallery/${Math.floor(random() * 500)}`,
                  referrer: random() < 0.5 ? "https://example.com/" : null,
                },
              ];
    const record: RawEventRecord = {
      event_id: randomUUID(),
      event,
      event_time: new Date(at.getTime() - Math.floor(random() * 2000)).toISOString(),
      received_at: at.toISOString(),
      user_id: user,
      anonymous_id: null,
      correlation_id: randomUUID(),
      service: "gallery",
      stage: "prod",
      properties,
      context: {
        user_agent: pick(AGENTS),
        ip: `10.0.${Math.floor(random() * 255)}.${Math.floor(random() * 255)}`,
        library: { name: "observatory-tracker", version: "0.1.0" },
      },
      schema_version: event === "page_viewed" ? null : 1,
      request_id: randomUUID(),
    };
    if (recent.length < 1000) recent.push(record);
    else recent[Math.floor(random() * recent.length)] = record;
    yield record;
  }
}

/** Writes `count` events as collector-sized gzip NDJSON objects into `directory` (flat) - returns the files and raw keys. */
export async function writeRawFiles(
  directory: string,
  count: number,
  options: { start: Date; hours: number; eventsPerObject: number; seed?: number },
): Promise<{ files: string[]; keys: string[]; bytes: number }> {
  const files: string[] = [];
  const keys: string[] = [];
  let bytes = 0;
  let batch: RawEventRecord[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const body = gzipSync(batch.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const path = join(directory, `${files.length}.ndjson.gz`);
    await writeFile(path, body);
    files.push(path);
    keys.push(rawObjectKey(new Date((batch[0] as RawEventRecord).received_at), `bench-${files.length}`));
    bytes += body.length;
    batch = [];
  };
  for (const record of generateEvents(count, options)) {
    batch.push(record);
    if (batch.length >= options.eventsPerObject) await flush();
  }
  await flush();
  return { files, keys, bytes };
}
