/**
 * The payloads Step Functions hands the planner, worker and finalizer Lambdas and what they return.
 * These are the handler contracts of an EtlFleet: a user's own handlers implement them, the built-in
 * wrappers in handlers.ts implement them around plain job functions (jobs.ts).
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface S3Location {
  bucket: string;
  key: string;
}
export interface S3Prefix {
  bucket: string;
  /** Ends in "/". */
  prefix: string;
}

/** One unit of work. `id` is stable across re-runs: it is how a resumed run knows what is done. */
export interface EtlItem {
  id: string;
  [key: string]: JsonValue;
}

/**
 * A run id becomes an S3 key segment (`etl/results/<job>/<run_id>/`) and part of execution names:
 * no "/" (run "a" must not see run "a/b"'s results), at most 80 characters like an execution name.
 */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$/;

export function checkRunId(runId: string): string {
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new Error(
      `run id ${JSON.stringify(runId)} must match ${RUN_ID_PATTERN} (letters, digits, . _ : -; no "/"; at most 80)`,
    );
  }
  return runId;
}

/** Input of a state machine execution (`StartExecution` input, or `--input` locally). */
export interface EtlExecutionInput {
  /** Names the run in the ledger; re-using one resumes it (a SUCCEEDED run is not redone). Default: the execution name. */
  run_id?: string;
  /** Handed to the planner as `input`. Default `{}`. */
  input?: JsonValue;
}

/** Planner Lambda input. */
export interface PlannerEvent {
  job: string;
  run_id: string;
  input: JsonValue;
  /** Where a distributed planner writes its JSONL manifest (`<prefix><job>/<run_id>/manifest-<n>.jsonl`). */
  manifest_location: S3Prefix;
  /** Where this run's Map results live; a resumed run excludes items that succeeded there before. */
  results_location: S3Prefix;
  /** For the ledger's TTL: the planner returns `expires_at` = now + this many days (epoch seconds). */
  ledger_ttl_days: number;
}

interface PlanCommon {
  /** Items this attempt will process. */
  item_count: number;
  /** Items skipped because an earlier attempt of the same run already succeeded on them. */
  skipped_count: number;
  /** Epoch seconds; the ledger row's TTL. */
  expires_at: number;
}
/** Distributed mode: the items are JSON Lines in S3 (read by the Map's ItemReader, InputType JSONL). */
export interface DistributedPlan extends PlanCommon {
  manifest: S3Location;
}
/** Inline mode: the items travel in the state (keep them small: 256 KiB per state payload). */
export interface InlinePlan extends PlanCommon {
  items: EtlItem[];
}
export type PlannerResult = DistributedPlan | InlinePlan;

/** What every worker invocation receives: a batch of items (ItemBatcher) and the run's fixed input. */
export interface WorkerEvent<Item extends EtlItem = EtlItem> {
  Items: Item[];
  BatchInput: { job: string; run_id: string; input: JsonValue };
}
/** A worker returns JSON (kept in the Map results). Throw TransientError to be retried. */
export type WorkerResult = JsonValue;

/** Output of a Distributed Map with a ResultWriter (AWS: "MapRunArn" + "ResultWriterDetails"). */
export interface MapRunOutput {
  MapRunArn: string;
  ResultWriterDetails: { Bucket: string; Key: string };
}

/** Finalizer Lambda input: the run, its plan, and the Map's output. */
export interface FinalizerEvent {
  job: string;
  run_id: string;
  input: JsonValue;
  plan: PlannerResult;
  /** Distributed: where the ResultWriter put manifest.json. Inline: the workers' results, in item order. */
  map: MapRunOutput | WorkerResult[];
  results_location: S3Prefix;
}

/** Finalizer Lambda output: the run's summary, written to the ledger by the state machine. */
export interface RunSummary {
  total_items: number;
  succeeded_items: number;
  failed_items: number;
  skipped_items: number;
  /** `s3://bucket/key` of the ResultWriter manifest listing FAILED_n.json files, or null when none failed. */
  failed_items_location: string | null;
  /** Whatever the job's finalize step returns (for wordcount: where the counts are, top words). */
  output: JsonValue;
}

/** One child execution's record in a ResultWriter SUCCEEDED_n.json / FAILED_n.json file (AWS shape). */
export interface MapChildResult {
  ExecutionArn: string;
  Name?: string;
  /** The child's input as a JSON string: `{"Items": [...], "BatchInput": {...}}`. */
  Input: string;
  InputDetails?: { Included: boolean };
  /** The worker's result as a JSON string (SUCCEEDED). */
  Output?: string;
  OutputDetails?: { Included: boolean };
  Error?: string;
  Cause?: string;
  Status: "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED" | "PENDING_REDRIVE";
  StartDate: string;
  StopDate: string;
  StateMachineArn: string;
  RedriveCount?: number;
  RedriveStatus?: string;
}

/** The ResultWriter's manifest.json (AWS shape). */
export interface ResultWriterManifest {
  DestinationBucket: string;
  MapRunArn: string;
  ResultFiles: {
    FAILED: { Key: string; Size: number }[];
    PENDING: { Key: string; Size: number }[];
    SUCCEEDED: { Key: string; Size: number }[];
  };
}
