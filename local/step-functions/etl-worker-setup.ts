/**
 * Setup module of the ETL worker pool: in each worker thread, builds the job's worker handler (the
 * same workerHandler the Lambda entry exports) with a client for the local S3.
 */

import { workerHandler } from "../../etl/handlers.js";
import { type EtlJob, listJobs } from "../../etl/jobs.js";
import { localS3Client } from "../s3-server.js";

export interface EtlWorkerSetup {
  job: string;
  s3Endpoint: string;
  /**
   * Modules that register the job (benchmarks, tests, or to spare a thread the whole catalog):
   * imported first; the catalog (every built-in job) only when the job is not among them.
   */
  jobModules?: string[];
}

async function findJob(o: EtlWorkerSetup): Promise<EtlJob> {
  for (const module of o.jobModules ?? []) await import(module);
  const registered = listJobs().find((job) => job.spec.name === o.job);
  if (registered) return registered;
  const { getJob } = await import("../../etl/job-catalog.js");
  return getJob(o.job);
}

export async function createHandler(o: EtlWorkerSetup): Promise<(payload: unknown) => Promise<unknown>> {
  const job = await findJob(o);
  const s3 = localS3Client(o.s3Endpoint);
  return workerHandler(job, () => s3) as (payload: unknown) => Promise<unknown>;
}
