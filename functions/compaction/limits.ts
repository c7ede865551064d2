/**
 * Every limit of the compaction job, with its reason. Handlers may override some through their input
 * (documented in docs/compaction.md); these are the defaults.
 */

/** Raw bytes (gzip) per worker chunk: ~64 MiB gzip is ~0.5-1 GiB of JSON, which DuckDB reads in well
 * under a minute and which fits a 3 GiB Lambda with room for the Parquet it writes. */
export const CHUNK_MAX_BYTES = 64 * 1024 * 1024;

/** Objects per chunk: each is one S3 GET; 1,000 keeps a chunk's downloads to seconds and its manifest
 * item well under the 256 KiB Step Functions payload limit (a raw key is ~90 bytes). */
export const CHUNK_MAX_OBJECTS = 1000;

/** An hour's raw prefix is closed (dropped from the consumed-key state) only when it ended this long
 * before planning: far longer than a collector invocation can take to finish its PutObject (its timeout
 * is seconds), so no object can still appear under it. */
export const HOUR_SETTLE_MS = 15 * 60 * 1000;

/** Objects one run takes (50 chunks of CHUNK_MAX_OBJECTS): keeps the stored plan and the manifest a few
 * MB and a run well inside its hour; a backlog (a first run on an old bucket) drains over runs, oldest
 * hours first. */
export const MAX_OBJECTS_PER_RUN = 50_000;

/** S3 downloads/uploads in flight per worker: enough to hide per-request latency without exhausting
 * a Lambda's sockets or memory. */
export const S3_TRANSFER_CONCURRENCY = 16;

/** Partitions the finalizer merges at once: each merge is a DuckDB job that already uses every core. */
export const MERGE_CONCURRENCY = 2;

/** ZSTD level of every Parquet file the job writes. Measured on the benchmark's 200k events
 * (docs/benchmarks/compaction.md): level 1 spends ~35-40% less CPU in the COPYs than DuckDB's default
 * (3) and the files come out ~4% SMALLER (DuckDB compresses page by page; on pages this small the
 * higher level finds nothing more). Readers (Athena, DuckDB) do not care which level wrote a file. */
export const PARQUET_ZSTD_LEVEL = 1;

/** DuckDB memory ceiling as a share of the function's memory: the rest is Node, the SDK and buffers;
 * above it DuckDB spills to /tmp instead of being OOM-killed. */
export const DUCKDB_MEMORY_SHARE = 0.6;

/** Merges of one partition redone after losing a conditional write to another writer before giving up:
 * runs never overlap by design, so even one conflict means something unusual is going on. */
export const MAX_MERGE_ATTEMPTS = 3;
