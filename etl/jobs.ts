/**
 * The job registry: a job is a spec plus three plain functions (plan, work, finalize). handlers.ts
 * turns them into the Lambda handlers of the contracts; the local runner binds the very same handlers.
 * Jobs register themselves on import; job-catalog.ts is the one import list.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { EtlItem, JsonValue } from "./contracts.js";
import type { EtlJobSpec } from "./job-spec.js";
import { resolveSpec } from "./job-spec.js";

/** What every job function gets: an S3 client (AWS or local) and the run it belongs to. */
export interface EtlJobContext {
  s3: S3Client;
  job: string;
  run_id: string;
  input: JsonValue;
}
export interface PlannerContext extends EtlJobContext {
  /** The job's bucket (where the manifest goes; jobs usually read their input there too). */
  bucket: string;
}

export interface EtlJob<Item extends EtlItem = EtlItem, Result extends JsonValue = JsonValue> {
  spec: EtlJobSpec;
  /** Lists ALL the run's items; items a previous attempt of the run finished are excluded for you. */
  plan(ctx: PlannerContext): Promise<Item[]>;
  /** Processes one batch. Throw TransientError for a failure worth retrying. */
  work(items: Item[], ctx: EtlJobContext): Promise<Result>;
  /** Combines the results of every succeeded batch of the run (earlier attempts included). */
  finalize(results: Result[], ctx: PlannerContext): Promise<JsonValue>;
  /** `etl start --local` calls this first so the job has input on a fresh checkout. */
  seedLocal?(s3: S3Client, bucket: string, input: JsonValue): Promise<void>;
  description?: string;
}

const registry = new Map<string, EtlJob>();

/** Registers a job (its spec is validated now, not at deploy time). Returns it for direct use. */
export function defineJob<Item extends EtlItem, Result extends JsonValue>(
  job: EtlJob<Item, Result>,
): EtlJob<Item, Result> {
  const { name } = resolveSpec(job.spec);
  const existing = registry.get(name);
  if (existing && existing !== (job as unknown as EtlJob))
    throw new Error(`ETL job ${JSON.stringify(name)} is defined twice`);
  registry.set(name, job as unknown as EtlJob);
  return job;
}

export function getJob(name: string): EtlJob {
  const job = registry.get(name);
  if (!job) {
    const known = [...registry.keys()].sort().join(", ") || "(none)";
    throw new Error(`unknown ETL job ${JSON.stringify(name)}; known jobs: ${known}`);
  }
  return job;
}

export function listJobs(): EtlJob[] {
  return [...registry.values()].sort((a, b) => a.spec.name.localeCompare(b.spec.name));
}
