import { join, relative, resolve, sep } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { LOGS_TABLE } from "../contracts/logs-table.js";
import { RAW_PREFIX, tablePrefix } from "../contracts/storage-layout.js";
import { STATE_KEY } from "../functions/compaction/keys.js";
import { readJsonObject } from "../functions/compaction/s3-files.js";
import { type CompactionState, consumedSet } from "../functions/compaction/state.js";
import { mirrorPrefix } from "../local/table-mirror.js";
import { readRawEvents, type SkippedRaw } from "./raw-events.js";
import { DEFAULT_TRACE_DAYS, eventMessage, recentDays, type TimelineEntry } from "./timeline.js";

export interface LocalTraceOptions {
  s3: S3Client;
  bucket: string;
  correlationId: string;
  /** Where S3 objects are mirrored for DuckDB (kept between runs: unchanged objects are not fetched again). */
  cacheDir: string;
  days?: number;
  now?: Date;
  onProgress?: (done: number, total: number) => void;
  /** Called when raw objects or lines could not be read (they were skipped, the rest is traced). */
  onSkipped?: (skipped: SkippedRaw) => void;
}

const inDays = (days: string[]) => (key: string) => days.some((d) => key.includes(`/dt=${d}/`));

/**
 * Everything of one correlation ID from the local stack's bucket: log lines from the `logs` archive,
 * events from the compacted `events` table and, for events not compacted yet, from the raw zone (the
 * same event in both is shown once). Platform lines (START/END/REPORT) of an invocation that logged
 * with the ID are included through their request id. DuckDB reads mirrored files.
 */
export async function traceLocal(options: LocalTraceOptions): Promise<TimelineEntry[]> {
  const days = recentDays(options.now ?? new Date(), options.days ?? DEFAULT_TRACE_DAYS);
  // Raw objects compaction already consumed have their events in the `events` table: read only the
  // others. The state is read BEFORE the events table is mirrored: the finalizer writes it after
  // merging, so every key it lists is already in what we mirror next.
  const consumed = await compactedRawKeys(options.s3, options.bucket);
  // One mirror directory per prefix: a mirror deletes local files its prefix no longer lists.
  const mirror = (name: string, prefix: string, accept: (key: string) => boolean) =>
    mirrorPrefix({
      s3: options.s3,
      bucket: options.bucket,
      prefix,
      directory: join(options.cacheDir, name),
      accept,
      onProgress: options.onProgress,
    });
  const logs = await mirror(
    "logs",
    tablePrefix(LOGS_TABLE),
    (k) => k.endsWith(".parquet") && inDays(days)(k),
  );
  const events = await mirror(
    "events",
    tablePrefix("events"),
    (k) => k.endsWith(".parquet") && inDays(days)(k),
  );
  const raw = await mirror(
    "raw",
    RAW_PREFIX,
    (k) => k.endsWith(".ndjson.gz") && inDays(days)(k) && !consumed(k),
  );

  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    const list = (files: string[]) => `[${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(", ")}]`;
    const entries: TimelineEntry[] = [];
    const id = options.correlationId;
    if (logs.files.length > 0) {
      const source = `read_parquet(${list(logs.files)}, hive_partitioning = true, hive_types_autocast = false, union_by_name = true)`;
      const reader = await connection.runAndReadAll(
        `WITH l AS (SELECT * FROM ${source})
         SELECT epoch_ms("time") AS t, log_id, service, function_name, level, message FROM l
         WHERE correlation_id = $id
            OR (correlation_id IS NULL AND function_request_id IN (SELECT function_request_id FROM l WHERE correlation_id = $id AND function_request_id IS NOT NULL))`,
        { id },
      );
      for (const r of reader.getRowObjectsJS()) {
        entries.push({
          time: new Date(Number(r.t)),
          service: r.service as string | null,
          function: r.function_name as string | null,
          level: r.level as string | null,
          kind: "log",
          message: String(r.message),
          seq: String(r.log_id),
        });
      }
    }
    const seen = new Set<string>();
    const addEvent = (r: Record<string, unknown>) => {
      const eventId = String(r.event_id);
      if (seen.has(eventId)) return;
      seen.add(eventId);
      entries.push({
        time: new Date(Number(r.t)),
        service: r.service as string | null,
        function: (r.fn as string | null) ?? null,
        level: null,
        kind: "event",
        message: eventMessage(String(r.event), r.properties),
      });
    };
    if (events.files.length > 0) {
      const reader = await connection.runAndReadAll(
        `SELECT event_id, event, epoch_ms(event_time) AS t, service, properties, json_extract_string(context, '$.function_name') AS fn
         FROM read_parquet(${list(events.files)}, hive_partitioning = true, hive_types_autocast = false, union_by_name = true)
         WHERE correlation_id = $id`,
        { id },
      );
      for (const r of reader.getRowObjectsJS()) addEvent(r);
    }
    if (raw.files.length > 0) {
      const rawDir = resolve(options.cacheDir, "raw");
      const { events: rawEvents, skipped } = await readRawEvents(raw.files, id, (file) =>
        relative(rawDir, file).split(sep).join("/"),
      );
      for (const r of rawEvents) addEvent(r as unknown as Record<string, unknown>);
      if (skipped.objects > 0 || skipped.lines > 0) options.onSkipped?.(skipped);
    }
    return entries;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Whether compaction's committed state lists a raw key as consumed (none before its first run). */
async function compactedRawKeys(s3: S3Client, bucket: string): Promise<(key: string) => boolean> {
  const state = await readJsonObject<CompactionState>(s3, bucket, STATE_KEY);
  if (!state) return () => false;
  const isConsumed = consumedSet(state);
  return (key) => {
    try {
      return isConsumed(key);
    } catch {
      return false; // not an hour-partitioned key: read it
    }
  };
}
