/**
 * Setup module of the ETL worker pool: in each worker thread, builds the job's worker handler (the
 * same workerHandler the Lambda entry exports) with a client for the local S3.
 */

import { workerHandler } from "../../etl/handlers.js";
import { getJob } from "../../etl/job-catalog.js";
import { localS3Client } from "../s3-server.js";

export interface EtlWorkerSetup {
  job: string;
  s3Endpoint: string;
  /** Modules that register jobs not in the catalog (benchmarks, tests): imported before the lookup. */
  jobModules?: string[];
}

export async function createHandler(o: EtlWorkerSetup): Promise<(payload: unknown) => Promise<unknown>> {
  for (const module of o.jobModules ?? []) await import(module);
  const s3 = localS3Client(o.s3Endpoint);
  return workerHandler(getJob(o.job), () => s3) as (payload: unknown) => Promise<unknown>;
}
