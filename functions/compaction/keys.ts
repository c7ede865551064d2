import { ETL_PREFIX, tablePrefix } from "../../contracts/storage-layout.js";

/**
 * Object keys the compaction job writes. All are deterministic in (run, chunk, table, partition), so a
 * retried worker or finalizer overwrites its own earlier attempt instead of adding a second copy.
 */
export const COMPACTION_JOB = "compaction";
const JOB_PREFIX = `${ETL_PREFIX}${COMPACTION_JOB}/`;

/** The committed state: which raw keys are consumed (see state.ts). Written last by the finalizer. */
export const STATE_KEY = `${JOB_PREFIX}state.json`;

export function runPrefix(runId: string): string {
  if (!/^[A-Za-z0-9_.:-]+$/.test(runId))
    throw new Error(`run id must be [A-Za-z0-9_.:-]+: ${JSON.stringify(runId)}`);
  return `${JOB_PREFIX}runs/${runId}/`;
}

/** One chunk's Parquet for one partition of one table, before the finalizer merges it in. */
export function stagedKey(
  runId: string,
  chunk: number,
  table: string,
  partitionPath: string,
  file: number,
): string {
  return `${runPrefix(runId)}staged/${table}/${partitionPath}chunk-${chunkName(chunk)}-${file}.parquet`;
}

/** The run's plan (chunks and when it was planned): reused when the run is resumed. */
export function planKey(runId: string): string {
  return `${runPrefix(runId)}plan.json`;
}

/** Written by the finalizer once the run is committed: a retried finalizer returns it unchanged. */
export function committedKey(runId: string): string {
  return `${runPrefix(runId)}committed.json`;
}

/** Written last by a worker: the chunk is complete; lists its staged files and consumed raw keys. */
export function doneMarkerKey(runId: string, chunk: number): string {
  return `${doneMarkerPrefix(runId)}chunk-${chunkName(chunk)}.json`;
}

export function doneMarkerPrefix(runId: string): string {
  return `${runPrefix(runId)}done/`;
}

/** The one compacted file of a table partition (`dt=YYYY-MM-DD/hour=HH/`). */
export function compactedKey(table: string, partitionPath: string): string {
  return `${tablePrefix(table)}${partitionPath}${COMPACTED_FILE}`;
}

export const COMPACTED_FILE = "part-0000.parquet";

function chunkName(chunk: number): string {
  if (!Number.isInteger(chunk) || chunk < 0)
    throw new Error(`chunk must be a non-negative integer: ${chunk}`);
  return String(chunk).padStart(5, "0");
}
