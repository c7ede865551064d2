import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import type { DuckDBConnection } from "@duckdb/node-api";
import pMap from "p-map";
import type { EventSchema } from "../../contracts/event-schema.js";
import { QUARANTINE_PREFIX, RAW_PREFIX, tablePrefix } from "../../contracts/storage-layout.js";
import type { JsonValue } from "../../etl/contracts.js";
import { type DuckDB, openDuckDB, sqlStringList } from "./duckdb.js";
import {
  COMPACTED_FILE,
  committedKey,
  compactedKey,
  doneMarkerKey,
  doneMarkerPrefix,
  planKey,
  STATE_KEY,
  stagedKey,
} from "./keys.js";
import { MAX_MERGE_ATTEMPTS, MAX_OBJECTS_PER_RUN, MERGE_CONCURRENCY } from "./limits.js";
import { mergePartition } from "./merge.js";
import { type ChunkLimits, type CompactionChunk, DEFAULT_CHUNK_LIMITS, planChunks } from "./plan.js";
import { compactChunkInput } from "./poison-quarantine.js";
import {
  copyObject,
  deleteObjects,
  downloadObjects,
  isWriteConflict,
  listObjects,
  readJsonObject,
  uploadFile,
  type WriteCondition,
  writeJsonObject,
} from "./s3-files.js";
import {
  type CompactionState,
  commitState,
  consumedSet,
  EMPTY_STATE,
  listStartAfter,
  parseHourKey,
} from "./state.js";
import {
  type CompactionTable,
  EVENTS_TABLE,
  eventTables,
  QUARANTINE_COMPACTION_TABLE,
  QUARANTINE_TABLE,
} from "./tables.js";
import { withTransientS3Errors } from "./transient.js";

/**
 * The compaction job: planner, worker and finalizer as plain functions over their dependencies. The
 * Lambda handlers (functions/compaction-*\/handler.ts) and the local runner call these.
 */
export interface CompactionDeps {
  s3: S3Client;
  /** The pipeline's bucket: raw/, quarantine/, tables/ and etl/compaction/ live here. */
  bucket: string;
  /** Declared event schemas: each gets its own table with typed columns. */
  schemas: EventSchema[];
  now?: () => Date;
  /** Where workers keep their temporary files (Lambda: /tmp). */
  tempDirectory?: string;
  /** DuckDB threads (default: every core). */
  threads?: number;
}

/** Planner input (`input` of the execution), all optional. */
export interface CompactionInput {
  max_chunk_bytes?: number;
  max_chunk_objects?: number;
  max_objects_per_run?: number;
}

/** What the planner stores for the run and the finalizer reads back. */
interface StoredPlan {
  run_id: string;
  planned_at: string;
  chunks: CompactionChunk[];
  /** Objects left for later runs (over MAX_OBJECTS_PER_RUN), and the earliest of them: its hour stays open. */
  deferred_count?: number;
  deferred_from?: string;
}

/** What a worker writes last for a chunk (its commit): what it consumed and what it staged. */
export interface ChunkDone {
  chunk: number;
  kind: CompactionChunk["kind"];
  keys: string[];
  rows_in: number;
  duplicates: number;
  rows_by_table: Record<string, number>;
  rows_by_partition: Record<string, Record<string, number>>;
  staged: { table: string; partition_path: string; key: string }[];
}

export interface CompactionOutput {
  [key: string]: JsonValue;
  chunks_planned: number;
  chunks_done: number;
  objects_consumed: number;
  /** Objects left for the next runs (over MAX_OBJECTS_PER_RUN). */
  objects_deferred: number;
  rows_in: number;
  /** Lines dropped because another line of the run had the same key (events: event_id). */
  duplicates_in_chunks: number;
  /** Lines dropped because their event (or quarantine record) was already compacted; counted once
   * per line, not once per table it would have gone to. */
  duplicates_against_existing: number;
  rows_by_table: Record<string, number>;
  partitions_written: number;
  files: string[];
  /** The committed consumed-key state, and this run's plan (its chunks: every raw key it took). */
  state: string;
  plan: string;
}

/** The summary lists at most this many output files: it is stored in a DynamoDB item (400 KB max). */
const MAX_SUMMARY_FILES = 200;

// ---------------------------------------------------------------- planner

/**
 * Every chunk of the run. The first attempt lists the raw and quarantine zones' open hours, keeps the
 * objects the committed state does not hold, groups them, and stores that plan; a resumed attempt of
 * the same run gets the stored plan back, so chunk ids (how the runner knows what finished) are stable.
 */
export async function planCompaction(
  deps: CompactionDeps,
  run: { run_id: string; input: JsonValue },
): Promise<CompactionChunk[]> {
  const stored = await readJsonObject<StoredPlan>(deps.s3, deps.bucket, planKey(run.run_id));
  if (stored) return stored.chunks;
  const now = deps.now?.() ?? new Date();
  const input = (
    run.input && typeof run.input === "object" && !Array.isArray(run.input) ? run.input : {}
  ) as CompactionInput;
  const state = (await readJsonObject<CompactionState>(deps.s3, deps.bucket, STATE_KEY)) ?? EMPTY_STATE;
  const consumed = consumedSet(state);
  const limits: ChunkLimits = {
    maxBytes: input.max_chunk_bytes ?? DEFAULT_CHUNK_LIMITS.maxBytes,
    maxObjects: input.max_chunk_objects ?? DEFAULT_CHUNK_LIMITS.maxObjects,
  };
  const [raw, quarantine] = await Promise.all([
    listObjects(deps.s3, deps.bucket, RAW_PREFIX, listStartAfter(RAW_PREFIX, state)),
    listObjects(deps.s3, deps.bucket, QUARANTINE_PREFIX, listStartAfter(QUARANTINE_PREFIX, state)),
  ]);
  // Oldest hours first, so that a backlog (a first run on an old bucket) drains in order over runs.
  const fresh = [
    ...raw.map((object) => ({ kind: "events" as const, object, hour: parseHourKey(object.key).hour })),
    ...quarantine.map((object) => ({
      kind: "quarantine" as const,
      object,
      hour: parseHourKey(object.key).hour,
    })),
  ]
    .filter(({ object }) => !consumed(object.key))
    .sort((a, b) => (a.hour === b.hour ? (a.object.key < b.object.key ? -1 : 1) : a.hour < b.hour ? -1 : 1));
  const cap = input.max_objects_per_run ?? MAX_OBJECTS_PER_RUN;
  const deferred = fresh.slice(cap);
  const plan: StoredPlan = {
    run_id: run.run_id,
    planned_at: now.toISOString(),
    chunks: planChunks(fresh.slice(0, cap), deps.bucket, limits),
    ...(deferred.length > 0
      ? { deferred_count: deferred.length, deferred_from: deferred[0]?.object.key }
      : {}),
  };
  await writeJsonObject(deps.s3, deps.bucket, planKey(run.run_id), plan);
  return plan.chunks;
}

// ---------------------------------------------------------------- worker

/** A worker's result, kept in the Map results: small (the done markers in S3 hold the details). */
export interface ChunkResultSummary {
  [key: string]: JsonValue;
  chunk: number;
  kind: CompactionChunk["kind"];
  objects: number;
  rows_in: number;
  duplicates: number;
  staged_files: number;
}

export async function compactChunks(
  deps: CompactionDeps,
  runId: string,
  items: CompactionChunk[],
): Promise<{ chunks: ChunkResultSummary[] }> {
  const chunks: ChunkResultSummary[] = [];
  for (const item of items) {
    const done = await withTransientS3Errors(() => compactChunk(deps, runId, item));
    chunks.push({
      chunk: done.chunk,
      kind: done.kind,
      objects: done.keys.length,
      rows_in: done.rows_in,
      duplicates: done.duplicates,
      staged_files: done.staged.length,
    });
  }
  return { chunks };
}

/** Raw objects of one chunk -> staged Parquet per table partition, then the done marker. Idempotent. */
export async function compactChunk(
  deps: CompactionDeps,
  runId: string,
  chunk: CompactionChunk,
): Promise<ChunkDone> {
  const markerKey = doneMarkerKey(runId, chunk.chunk);
  const earlier = await readJsonObject<ChunkDone>(deps.s3, deps.bucket, markerKey);
  if (earlier) return earlier;
  const work = await mkdtemp(join(deps.tempDirectory ?? tmpdir(), `compaction-${chunk.id}-`));
  const db = await openDuckDB({ tempDirectory: join(work, "duckdb"), threads: deps.threads });
  try {
    await mkdir(join(work, "in"));
    await mkdir(join(work, "out"));
    const inputFiles = await downloadObjects(
      deps.s3,
      deps.bucket,
      chunk.keys,
      join(work, "in"),
      ".ndjson.gz",
    );
    const tables = chunk.kind === "events" ? eventTables(deps.schemas) : [QUARANTINE_COMPACTION_TABLE];
    // Bad input (an unreadable object, a malformed line) goes to quarantine; the rest is compacted.
    const { result, quarantineKeys } = await compactChunkInput(db.connection, {
      s3: deps.s3,
      bucket: deps.bucket,
      kind: chunk.kind,
      keys: chunk.keys,
      inputFiles,
      tables,
      workDirectory: work,
      writers: await extraWriters(db, deps.threads),
    });
    const fileIndex = new Map<string, number>();
    const staged = result.files.map((file) => {
      const id = `${file.table}/${file.partitionPath}`;
      const index = fileIndex.get(id) ?? 0;
      fileIndex.set(id, index + 1);
      return {
        table: file.table,
        partition_path: file.partitionPath,
        key: stagedKey(runId, chunk.chunk, file.table, file.partitionPath, index),
        path: file.path,
      };
    });
    await pMap(staged, (s) => uploadFile(deps.s3, deps.bucket, s.key, s.path), { concurrency: 8 });
    const done: ChunkDone = {
      chunk: chunk.chunk,
      kind: chunk.kind,
      // The quarantine objects this chunk wrote and staged count as consumed too: read once.
      keys: [...chunk.keys, ...quarantineKeys],
      rows_in: result.rowsIn,
      duplicates: result.duplicates,
      rows_by_table: result.rowsByTable,
      rows_by_partition: result.rowsByPartition,
      staged: staged.map(({ table, partition_path, key }) => ({ table, partition_path, key })),
    };
    // Last: only a chunk whose files are all uploaded counts as done.
    await writeJsonObject(deps.s3, deps.bucket, markerKey, done);
    return done;
  } finally {
    db.close();
    await rm(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- finalizer

/**
 * Merges every partition the finished chunks touched, then commits the run: the new state (one
 * PutObject) marks exactly the finished chunks' objects as consumed. Chunks that failed leave their
 * objects unconsumed, so the next run takes them again. Safe to retry at any point.
 */
export async function finalizeCompaction(deps: CompactionDeps, runId: string): Promise<CompactionOutput> {
  const committed = await readJsonObject<CompactionOutput>(deps.s3, deps.bucket, committedKey(runId));
  if (committed) return committed;
  const plan = await readJsonObject<StoredPlan>(deps.s3, deps.bucket, planKey(runId));
  if (!plan) throw new Error(`compaction run ${runId} has no plan at s3://${deps.bucket}/${planKey(runId)}`);
  const markers = await loadDoneMarkers(deps, runId);

  // Every partition a chunk touched, with its staged files in chunk order.
  const partitions = new Map<string, { table: string; partitionPath: string; staged: string[] }>();
  for (const marker of markers) {
    for (const s of marker.staged) {
      const id = `${s.table}/${s.partition_path}`;
      const p = partitions.get(id) ?? { table: s.table, partitionPath: s.partition_path, staged: [] };
      partitions.set(id, p);
      p.staged.push(s.key);
    }
  }
  const tables = new Map<string, CompactionTable>(
    [...eventTables(deps.schemas), QUARANTINE_COMPACTION_TABLE].map((t) => [t.name, t]),
  );
  const merged = await pMap(
    [...partitions.values()],
    async (p) => {
      const table = tables.get(p.table);
      if (!table) throw new Error(`staged files for table ${p.table}, which is not declared any more`);
      return mergeIntoPartition(deps, table, p.partitionPath, p.staged, markers);
    },
    { concurrency: MERGE_CONCURRENCY },
  );

  const consumedKeys = markers.flatMap((m) => m.keys);
  const doneChunks = new Set(markers.map((m) => m.chunk));
  // Failed chunks' objects and the deferred backlog keep their hours open for the next runs.
  const unconsumedKeys = [
    ...plan.chunks.filter((c) => !doneChunks.has(c.chunk)).flatMap((c) => c.keys),
    ...(plan.deferred_from ? [plan.deferred_from] : []),
  ];
  const state = (await readJsonObject<CompactionState>(deps.s3, deps.bucket, STATE_KEY)) ?? EMPTY_STATE;
  const now = deps.now?.() ?? new Date();
  const next = commitState(state, {
    runId: runId,
    plannedAt: new Date(plan.planned_at),
    consumedKeys,
    unconsumedKeys,
    committedAt: now,
  });
  await writeJsonObject(deps.s3, deps.bucket, STATE_KEY, next);

  const rowsByTable: Record<string, number> = {};
  for (const m of merged) rowsByTable[m.table] = (rowsByTable[m.table] ?? 0) + m.newRows;
  const output: CompactionOutput = {
    chunks_planned: plan.chunks.length,
    chunks_done: doneChunks.size,
    objects_consumed: consumedKeys.length,
    objects_deferred: plan.deferred_count ?? 0,
    rows_in: markers.reduce((sum, m) => sum + m.rows_in, 0),
    duplicates_in_chunks: markers.reduce((sum, m) => sum + m.duplicates, 0),
    // Per line read, like rows_in: a duplicate event is also dropped from its per-event table, which
    // must not count it twice, so only the tables holding every line (events, quarantine) count.
    duplicates_against_existing: merged
      .filter((m) => m.table === EVENTS_TABLE || m.table === QUARANTINE_TABLE)
      .reduce((sum, m) => sum + m.duplicates, 0),
    rows_by_table: rowsByTable,
    partitions_written: merged.length,
    files: merged.map((m) => m.key).slice(0, MAX_SUMMARY_FILES),
    state: `s3://${deps.bucket}/${STATE_KEY}`,
    plan: `s3://${deps.bucket}/${planKey(runId)}`,
  };
  await writeJsonObject(deps.s3, deps.bucket, committedKey(runId), output);
  // Staged files are now inside the compacted files; the plan and markers stay as the run's audit trail.
  await deleteObjects(
    deps.s3,
    deps.bucket,
    markers.flatMap((m) => m.staged.map((s) => s.key)),
  );
  return output;
}

/** One writer connection per core besides the main one: the per-partition COPYs are mostly single-threaded. */
async function extraWriters(db: DuckDB, threads = cpus().length): Promise<DuckDBConnection[]> {
  return Promise.all(Array.from({ length: Math.max(0, threads - 1) }, () => db.connect()));
}

async function loadDoneMarkers(deps: CompactionDeps, runId: string): Promise<ChunkDone[]> {
  const keys = (await listObjects(deps.s3, deps.bucket, doneMarkerPrefix(runId))).map((o) => o.key);
  const markers = await pMap(
    keys,
    async (key) => {
      const marker = await readJsonObject<ChunkDone>(deps.s3, deps.bucket, key);
      if (!marker) throw new Error(`done marker vanished: ${key}`);
      return marker;
    },
    { concurrency: 16 },
  );
  return markers.sort((a, b) => a.chunk - b.chunk);
}

/**
 * Makes the partition's one compacted file hold its existing rows plus the staged ones, deduplicated.
 * Other Parquet files found in the partition (small parts written by anything else) are merged in
 * and removed. When the partition is new and one chunk touched it, its staged file (already
 * deduplicated) is copied server-side instead of re-encoded.
 */
async function mergeIntoPartition(
  deps: CompactionDeps,
  table: CompactionTable,
  partitionPath: string,
  staged: string[],
  markers: ChunkDone[],
): Promise<{ table: string; key: string; newRows: number; duplicates: number }> {
  // Optimistic concurrency: the merged file is written only if the partition's file is still the one
  // merged (S3 conditional write); otherwise the merge is redone over the newer file.
  for (let attempt = 1; ; attempt++) {
    try {
      return await mergeOnce(deps, table, partitionPath, staged, markers);
    } catch (error) {
      if (!isWriteConflict(error) || attempt >= MAX_MERGE_ATTEMPTS) throw error;
    }
  }
}

async function mergeOnce(
  deps: CompactionDeps,
  table: CompactionTable,
  partitionPath: string,
  staged: string[],
  markers: ChunkDone[],
): Promise<{ table: string; key: string; newRows: number; duplicates: number }> {
  const key = compactedKey(table.name, partitionPath);
  const listed = (
    await listObjects(deps.s3, deps.bucket, `${tablePrefix(table.name)}${partitionPath}`)
  ).filter((o) => o.key.endsWith(".parquet"));
  const existing = listed.map((o) => o.key);
  const current = listed.find((o) => o.key === key);
  const condition: WriteCondition = current?.etag ? { ifMatch: current.etag } : { ifNoneMatch: "*" };
  const stagedRows = markers.reduce(
    (sum, m) => sum + (m.rows_by_partition[table.name]?.[partitionPath] ?? 0),
    0,
  );
  if (existing.length === 0 && staged.length === 1) {
    await copyObject(deps.s3, deps.bucket, staged[0] as string, key, condition);
    return { table: table.name, key, newRows: stagedRows, duplicates: 0 };
  }
  const work = await mkdtemp(join(deps.tempDirectory ?? tmpdir(), `compaction-merge-${table.name}-`));
  const db = await openDuckDB({ tempDirectory: join(work, "duckdb"), threads: deps.threads });
  try {
    await mkdir(join(work, "existing"));
    await mkdir(join(work, "staged"));
    const existingFiles = await downloadObjects(
      deps.s3,
      deps.bucket,
      existing,
      join(work, "existing"),
      ".parquet",
    );
    const stagedFiles = await downloadObjects(deps.s3, deps.bucket, staged, join(work, "staged"), ".parquet");
    const outFile = join(work, COMPACTED_FILE);
    const before = existing.length === 0 ? 0 : await countRows(db.connection, existingFiles);
    const result = await mergePartition(db.connection, { table, existingFiles, stagedFiles, outFile });
    await uploadFile(deps.s3, deps.bucket, key, outFile, condition);
    // Only after the merged file is in place: the parts it replaced.
    await deleteObjects(
      deps.s3,
      deps.bucket,
      existing.filter((k) => k !== key),
    );
    return { table: table.name, key, newRows: result.rows - before, duplicates: result.duplicates };
  } finally {
    db.close();
    await rm(work, { recursive: true, force: true });
  }
}

async function countRows(connection: Parameters<typeof mergePartition>[0], files: string[]): Promise<number> {
  const reader = await connection.runAndReadAll(
    `SELECT count(*) AS n FROM read_parquet(${sqlStringList(files)})`,
  );
  return Number((reader.getRowObjects()[0] as { n: bigint }).n);
}
