/**
 * The finalizer an EtlFleet uses when its job brings none: the run's summary is the item counts and
 * where the failed items are (what finalizerHandler derives from the Map's results); its `output` is
 * the number of result batches and the results themselves are left in S3 for whoever reads them.
 */
import type { EtlItem, JsonValue } from "../../etl/contracts.js";
import type { EtlJob } from "../../etl/jobs.js";

/** Env var naming the job (set by EtlFleet on all three functions). */
export const JOB_ENV = "OBSERVATORY_ETL_JOB";

function notHere(role: string): never {
  throw new Error(`the generic ETL finalizer has no ${role}: give the EtlFleet a ${role} handler`);
}

export function countsOnlyJob(name: string): EtlJob<EtlItem, JsonValue> {
  return {
    spec: { name },
    description: "Summary only: item counts and failed items of the Map run",
    plan: async () => notHere("planner"),
    work: async () => notHere("worker"),
    finalize: async (results) => ({ result_batches: results.length }),
  };
}
