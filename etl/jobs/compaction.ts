/**
 * The `compaction` ETL job: raw gzip NDJSON (and quarantine) -> ZSTD Parquet tables. The work is in
 * functions/compaction/job.ts (Lambda code, no Pulumi); this file only registers it with its spec so
 * that `observatory etl start compaction --local --wait`, `observatory dev --compact-every` and the
 * EtlFleet inside MetricPipeline all run the same thing.
 */
import { DEMO_EVENT_SCHEMAS, type EventSchema } from "../../contracts/event-schema.js";
import {
  type ChunkResultSummary,
  compactChunks,
  finalizeCompaction,
  planCompaction,
} from "../../functions/compaction/job.js";
import { COMPACTION_JOB } from "../../functions/compaction/keys.js";
import type { CompactionChunk } from "../../functions/compaction/plan.js";
import { defineJob } from "../jobs.js";

/** Same variable (and value) as the collector's: the declared schemas decide the per-event tables. */
export const EVENT_SCHEMAS_ENV = "OBSERVATORY_EVENT_SCHEMAS";

/**
 * Declared event schemas from OBSERVATORY_EVENT_SCHEMAS (MetricPipeline sets it on the worker and
 * finalizer, as on the collector); when unset, the demo schemas the local stack's collector uses.
 */
export function schemasFromEnv(env: NodeJS.ProcessEnv = process.env): EventSchema[] {
  const json = env[EVENT_SCHEMAS_ENV];
  if (!json) return DEMO_EVENT_SCHEMAS;
  const schemas = JSON.parse(json) as unknown;
  if (!Array.isArray(schemas)) throw new Error(`${EVENT_SCHEMAS_ENV} must be a JSON array of event schemas`);
  return schemas as EventSchema[];
}

export const compaction = defineJob<CompactionChunk, { chunks: ChunkResultSummary[] }>({
  description:
    "Raw gzip NDJSON and quarantine objects -> deduplicated ZSTD Parquet tables (events, per-event, quarantine)",
  spec: {
    name: COMPACTION_JOB,
    concurrency: 10,
    // One chunk per worker: a chunk is already sized (bytes, objects) for one invocation.
    batching: { maxItems: 1 },
    // A failed chunk's objects stay unconsumed and are taken again by the next run, so a few failures
    // need not fail the run; many mean something systemic, and the run should say so.
    toleratedFailurePercentage: 10,
    timeouts: { workerSeconds: 300, finalizerSeconds: 900, plannerSeconds: 300, runSeconds: 3600 },
  },

  plan: ({ s3, bucket, run_id, input }) =>
    planCompaction({ s3, bucket, schemas: schemasFromEnv() }, { run_id, input }),

  async work(items, { s3, run_id }) {
    const bucket = items[0]?.bucket;
    if (!bucket) return { chunks: [] };
    return compactChunks({ s3, bucket, schemas: schemasFromEnv() }, run_id, items);
  },

  finalize: async (_results, { s3, bucket, run_id }) =>
    finalizeCompaction({ s3, bucket, schemas: schemasFromEnv() }, run_id),
});
