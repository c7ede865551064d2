import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { DuckDBConnection } from "@duckdb/node-api";
import { PARQUET_COPY_OPTIONS, sqlIdentifier, sqlString, sqlStringList } from "./duckdb.js";
import type { CompactionTable } from "./tables.js";
import { jsonColumns, QUARANTINE_COMPACTION_TABLE } from "./tables.js";

/**
 * gzip NDJSON (what the collector writes) -> one ZSTD Parquet file per table partition, with DuckDB.
 * Works on local files only: the worker downloads and uploads with the S3 SDK around it.
 */

/** Kinds of raw input: accepted events (contracts RawEventRecord) or rejected ones (QuarantineRecord). */
export type SourceKind = "events" | "quarantine";

interface Source {
  /** read_json's explicit schema: no sampling, no type guessing, the same result for every chunk. */
  readColumns: Record<string, string>;
  /** Cleaned row: SQL expressions over the read columns, named as the tables' columns. */
  clean: string[];
  /** Two raw lines with equal values of these expressions (over the cleaned row) are the same row. */
  dedupKey: string[];
  /** Of the copies of a row, the one with the smallest value here is kept. */
  keepFirstBy: string;
  /** Decides the partition; a row without it would have nowhere to go. */
  timeColumn: string;
}

/**
 * ISO-8601 text column -> the same-named TIMESTAMP_MS column in UTC. Through TIMESTAMPTZ so an explicit
 * offset (not only `Z`) is honoured. The instant then moves over as epoch microseconds: the same value
 * as CAST(TIMESTAMPTZ AS TIMESTAMP), which goes through ICU calendar arithmetic per row (~4x the CPU:
 * ~6% of a chunk's). Infinities have no epoch and take the plain cast.
 */
function utcMillis(column: string): string {
  const instant = `CAST(${column} AS TIMESTAMPTZ)`;
  return `CAST(CASE WHEN isfinite(${instant}) THEN make_timestamp(epoch_us(${instant})) ELSE CAST(${instant} AS TIMESTAMP) END AS TIMESTAMP_MS) AS ${column}`;
}

const SOURCES: Record<SourceKind, Source> = {
  events: {
    readColumns: {
      event_id: "VARCHAR",
      event: "VARCHAR",
      event_time: "VARCHAR",
      received_at: "VARCHAR",
      user_id: "VARCHAR",
      anonymous_id: "VARCHAR",
      correlation_id: "VARCHAR",
      service: "VARCHAR",
      stage: "VARCHAR",
      // JSON keeps the object's text as sent (key order, unicode): properties stay a JSON string.
      properties: "JSON",
      context: "JSON",
      schema_version: "INTEGER",
    },
    clean: [
      "event_id",
      "event",
      utcMillis("event_time"),
      utcMillis("received_at"),
      "user_id",
      "anonymous_id",
      "correlation_id",
      "service",
      "stage",
      "CAST(properties AS VARCHAR) AS properties",
      "CAST(context AS VARCHAR) AS context",
      "schema_version",
    ],
    dedupKey: ["event_id"],
    // The earliest received copy: a client retry repeats what arrived first.
    keepFirstBy: "received_at",
    timeColumn: "event_time",
  },
  quarantine: {
    readColumns: {
      quarantined_at: "VARCHAR",
      request_id: "VARCHAR",
      correlation_id: "VARCHAR",
      status: "INTEGER",
      index: "INTEGER",
      event_id: "VARCHAR",
      event: "VARCHAR",
      reasons: "VARCHAR[]",
      payload: "VARCHAR",
      payload_encoding: "VARCHAR",
    },
    clean: [
      utcMillis("quarantined_at"),
      "request_id",
      "correlation_id",
      "status",
      '"index" AS batch_index',
      "event_id",
      "event",
      "reasons",
      "payload",
      "payload_encoding",
    ],
    // A re-read object repeats (request_id, index); a client's retry is a new request and is kept.
    dedupKey: ["request_id", "coalesce(batch_index, -1)"],
    keepFirstBy: "quarantined_at",
    timeColumn: "quarantined_at",
  },
};

export interface StagedPartitionFile {
  table: string;
  dt: string;
  hour: string;
  /** `dt=YYYY-MM-DD/hour=HH/` */
  partitionPath: string;
  /** Local Parquet file. */
  path: string;
}

export interface ChunkResult {
  rowsIn: number;
  /** Lines dropped because an earlier line of the chunk had the same key. */
  duplicates: number;
  /** Rows written per table (after dedup). */
  rowsByTable: Record<string, number>;
  /** Rows written per table and partition path. */
  rowsByPartition: Record<string, Record<string, number>>;
  files: StagedPartitionFile[];
}

/**
 * Reads `inputFiles` (gzip NDJSON of one kind), dedups within them, and writes each table's rows as
 * Hive-partitioned Parquet under `outDirectory/<table>/dt=/hour=/`.
 */
export async function compactFiles(
  connection: DuckDBConnection,
  options: {
    kind: SourceKind;
    inputFiles: string[];
    tables: CompactionTable[];
    outDirectory: string;
    /** More connections to the same database: the Parquet files are written side by side over them. */
    writers?: DuckDBConnection[];
  },
): Promise<ChunkResult> {
  const source = SOURCES[options.kind];
  const tables = options.kind === "quarantine" ? [QUARANTINE_COMPACTION_TABLE] : options.tables;
  const empty: ChunkResult = { rowsIn: 0, duplicates: 0, rowsByTable: {}, rowsByPartition: {}, files: [] };
  if (options.inputFiles.length === 0) return empty;

  // One read of the input, materialised once, so that every table is written from the same
  // deduplicated rows without parsing the JSON again. Not TEMP: the writer connections read it too.
  await connection.run(`CREATE OR REPLACE TABLE chunk_rows AS
    SELECT ${source.clean.join(", ")}
    FROM read_json(${sqlStringList(options.inputFiles)},
      format = 'newline_delimited', compression = 'gzip',
      columns = ${jsonColumns(source.readColumns)})`);
  // Dedup by hash aggregation and a delete of the few extra copies: far cheaper than a window over
  // every row (duplicates are retries: rare).
  const keys = source.dedupKey.map((expression, i) => `${expression} AS k${i}`).join(", ");
  const keyNames = source.dedupKey.map((_, i) => `k${i}`).join(", ");
  await connection.run(`CREATE OR REPLACE TEMP TABLE chunk_duplicates AS
    SELECT ${keyNames}, arg_min(row_id, ${source.keepFirstBy}) AS keep
    FROM (SELECT rowid AS row_id, ${keys}, ${source.keepFirstBy} FROM chunk_rows)
    GROUP BY ${keyNames} HAVING count(*) > 1`);
  const totals = await rows<{ rows_in: bigint; untimed: bigint }>(
    connection,
    `SELECT count(*) AS rows_in, count(*) FILTER (WHERE ${source.timeColumn} IS NULL) AS untimed FROM chunk_rows`,
  );
  const untimed = Number(totals[0]?.untimed ?? 0);
  if (untimed > 0) {
    // Fail the chunk (its objects stay unconsumed and are retried) rather than drop rows silently.
    throw new Error(
      `${untimed} ${options.kind} rows have no ${source.timeColumn}: the raw objects are not what the collector writes`,
    );
  }
  const deleted = await rows<{ Count: bigint }>(
    connection,
    `DELETE FROM chunk_rows WHERE rowid IN (
       SELECT row_id FROM (SELECT rowid AS row_id, ${keys} FROM chunk_rows) JOIN chunk_duplicates USING (${keyNames})
       WHERE row_id <> keep)`,
  );
  const result: ChunkResult = {
    rowsIn: Number(totals[0]?.rows_in ?? 0),
    duplicates: Number(deleted[0]?.Count ?? 0),
    rowsByTable: {},
    rowsByPartition: {},
    files: [],
  };
  // Rows per (event, hour) in one aggregation: every table's partitions and counts come from it.
  const hours = await rows<{ event: string | null; hour_start: string; n: bigint }>(
    connection,
    `SELECT event, strftime(hour_start, '%Y-%m-%d %H:00:00') AS hour_start, n FROM (
       SELECT ${options.kind === "events" ? "event" : "NULL"} AS event, date_trunc('hour', ${source.timeColumn}) AS hour_start, count(*) AS n
       FROM chunk_rows GROUP BY ALL)`,
  );
  const writes: CopyTask[] = [];
  for (const table of tables) {
    const counts = new Map<string, number>();
    for (const h of hours) {
      if (table.event === undefined || h.event === table.event)
        counts.set(h.hour_start, (counts.get(h.hour_start) ?? 0) + Number(h.n));
    }
    const planned = await planTableWrites(table, [...counts].sort(), options.outDirectory);
    if (planned.rows === 0) continue;
    result.rowsByTable[table.name] = planned.rows;
    result.rowsByPartition[table.name] = planned.byPartition;
    writes.push(...planned.tasks);
  }
  // Many small COPYs (one per table partition) keep one core busy each: run them over every writer.
  const queue = [...writes];
  await Promise.all(
    [connection, ...(options.writers ?? [])].map(async (writer) => {
      for (let task = queue.shift(); task; task = queue.shift()) await writer.run(task.sql);
    }),
  );
  for (const task of writes) result.files.push(...(await task.files()));
  await connection.run("DROP TABLE chunk_rows; DROP TABLE chunk_duplicates");
  return result;
}

/** The SELECT list producing exactly the table's columns, typed as the contract says. */
export function tableSelectList(table: CompactionTable): string {
  return table.columns
    .map((c) => `CAST(${table.select[c.name] ?? "NULL"} AS ${c.duckdbType}) AS ${sqlIdentifier(c.name)}`)
    .join(", ");
}

/** Above this many partitions in one chunk, one partitioned COPY beats a COPY per partition. */
const MAX_SEPARATE_PARTITION_WRITES = 8;

/** One COPY statement and the staged files it leaves. */
interface CopyTask {
  sql: string;
  files(): Promise<StagedPartitionFile[]>;
}

async function planTableWrites(
  table: CompactionTable,
  hourCounts: [hourStart: string, rows: number][],
  outDirectory: string,
): Promise<{ rows: number; byPartition: Record<string, number>; tasks: CopyTask[] }> {
  const filter = table.event === undefined ? "true" : `event = ${sqlString(table.event)}`;
  const time = sqlIdentifier(table.timeColumn);
  const counts = hourCounts.map(([hourStart, n]) => ({
    hour_start: hourStart,
    dt: hourStart.slice(0, 10),
    hour: hourStart.slice(11, 13),
    n,
  }));
  const byPartition = Object.fromEntries(counts.map((c) => [`dt=${c.dt}/hour=${c.hour}/`, c.n]));
  const n = counts.reduce((sum, c) => sum + c.n, 0);
  if (n === 0) return { rows: 0, byPartition, tasks: [] };
  const directory = join(outDirectory, table.name);
  if (counts.length > MAX_SEPARATE_PARTITION_WRITES) {
    const sql = `COPY (
        SELECT ${tableSelectList(table)}, strftime(${time}, '%Y-%m-%d') AS dt, strftime(${time}, '%H') AS "hour"
        FROM ${table.from} WHERE ${filter}
      ) TO ${sqlString(directory)}
      (${PARQUET_COPY_OPTIONS}, PARTITION_BY (dt, "hour"), OVERWRITE_OR_IGNORE)`;
    return { rows: n, byPartition, tasks: [{ sql, files: () => partitionFiles(table.name, directory) }] };
  }
  // A plain COPY per partition: DuckDB's partitioned writer is ~3x slower than a plain one here, and a
  // chunk's rows fall in few hours (received in order; late events are few).
  const tasks: CopyTask[] = [];
  for (const c of counts) {
    const partitionPath = `dt=${c.dt}/hour=${c.hour}/`;
    const path = join(directory, `dt=${c.dt}`, `hour=${c.hour}`, "data_0.parquet");
    await mkdir(join(directory, `dt=${c.dt}`, `hour=${c.hour}`), { recursive: true });
    const sql = `COPY (
        SELECT ${tableSelectList(table)} FROM ${table.from}
        WHERE ${filter} AND ${time} >= TIMESTAMP '${c.hour_start}' AND ${time} < TIMESTAMP '${c.hour_start}' + INTERVAL 1 HOUR
      ) TO ${sqlString(path)} (${PARQUET_COPY_OPTIONS})`;
    const file: StagedPartitionFile = { table: table.name, dt: c.dt, hour: c.hour, partitionPath, path };
    tasks.push({ sql, files: async () => [file] });
  }
  return { rows: n, byPartition, tasks };
}

/** Parquet files DuckDB wrote under `directory/dt=.../hour=.../`. */
async function partitionFiles(table: string, directory: string): Promise<StagedPartitionFile[]> {
  const files: StagedPartitionFile[] = [];
  for (const dtEntry of await readdir(directory)) {
    const dt = /^dt=(\d{4}-\d{2}-\d{2})$/.exec(dtEntry)?.[1];
    if (!dt) continue;
    for (const hourEntry of await readdir(join(directory, dtEntry))) {
      const hour = /^hour=(\d{2})$/.exec(hourEntry)?.[1];
      if (!hour) continue;
      for (const file of (await readdir(join(directory, dtEntry, hourEntry))).sort()) {
        if (!file.endsWith(".parquet")) continue;
        files.push({
          table,
          dt,
          hour,
          partitionPath: `dt=${dt}/hour=${hour}/`,
          path: join(directory, dtEntry, hourEntry, file),
        });
      }
    }
  }
  return files;
}

export async function rows<T>(connection: DuckDBConnection, sql: string): Promise<T[]> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRowObjects() as T[];
}
