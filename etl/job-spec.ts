/**
 * What a user declares about an ETL job: plain data, no Pulumi, no AWS calls. The same spec produces
 * the ASL that Step Functions runs (definition.ts) and drives the local runner.
 */

/** Step Functions caps one batch's input at 256 KiB (the state payload limit). */
export const MAX_BATCH_BYTES = 256 * 1024;
/** A Distributed Map runs at most 10,000 child executions at once. */
export const MAX_DISTRIBUTED_CONCURRENCY = 10_000;
/** An EXPRESS child execution may run at most 5 minutes. */
export const MAX_EXPRESS_SECONDS = 300;
/** Lambda's hard ceiling on one invocation. */
export const MAX_LAMBDA_SECONDS = 900;

/** Error name a worker throws (see transient-error.ts) so the Map retries the batch like a throttle. */
export const TRANSIENT_ERROR_NAME = "TransientError";

export type EtlMode = "distributed" | "inline";
export type ChildExecutionType = "EXPRESS" | "STANDARD";

export interface EtlRetryPolicy {
  /** Retries after the first attempt (ASL MaxAttempts). */
  maxAttempts: number;
  intervalSeconds: number;
  backoffRate: number;
  /** Caps the exponential backoff (ASL MaxDelaySeconds). */
  maxDelaySeconds: number;
  /** FULL jitter: each wait is uniform in [0, backoff] so throttled workers don't retry in lockstep. */
  jitter: "FULL" | "NONE";
}

export interface EtlBatching {
  /** Items per worker invocation (ASL MaxItemsPerBatch). */
  maxItems?: number;
  /** Bytes of items per worker invocation (ASL MaxInputBytesPerBatch), at most MAX_BATCH_BYTES. */
  maxBytes?: number;
}

export interface EtlTimeouts {
  /** Planner and finalizer Task timeout. */
  plannerSeconds: number;
  workerSeconds: number;
  finalizerSeconds: number;
  /** Whole execution (ASL TimeoutSeconds at the top level). */
  runSeconds: number;
}

export interface EtlJobSpec {
  /** lowercase, digits and dashes; names the state machine, the ledger rows and the S3 prefixes. */
  name: string;
  /** "distributed" (default): planner writes a JSONL manifest to S3; "inline": items travel in state. */
  mode?: EtlMode;
  /** MaxConcurrency of the Map: how many workers run at once. */
  concurrency?: number;
  batching?: EtlBatching;
  retry?: Partial<EtlRetryPolicy>;
  /** Share of items (0-100) that may fail before the run fails. Distributed mode only. */
  toleratedFailurePercentage?: number;
  /** Number of items that may fail before the run fails. Distributed mode only. */
  toleratedFailureCount?: number;
  childExecutionType?: ChildExecutionType;
  timeouts?: Partial<EtlTimeouts>;
  /** Days a ledger row is kept (DynamoDB TTL on expires_at). */
  ledgerTtlDays?: number;
}

export interface ResolvedEtlJobSpec {
  name: string;
  mode: EtlMode;
  concurrency: number;
  batching: EtlBatching;
  retry: EtlRetryPolicy;
  /** Undefined = not set (AWS: when neither is set, no failure is tolerated; when both, either can fail the run). */
  toleratedFailurePercentage?: number;
  toleratedFailureCount?: number;
  childExecutionType: ChildExecutionType;
  timeouts: EtlTimeouts;
  ledgerTtlDays: number;
}

/** Defaults in one place; documented in docs/etl-local-runner.md. */
export const DEFAULT_SPEC = {
  mode: "distributed",
  concurrency: 10,
  batching: { maxItems: 10 },
  retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 30, jitter: "FULL" },
  childExecutionType: "EXPRESS",
  timeouts: { plannerSeconds: 300, workerSeconds: 120, finalizerSeconds: 300, runSeconds: 3600 },
  ledgerTtlDays: 90,
} as const satisfies Omit<ResolvedEtlJobSpec, "name">;

const JOB_NAME = /^[a-z][a-z0-9-]{0,39}$/;

/** Fills defaults and rejects specs that Step Functions would reject, with a message that says why. */
export function resolveSpec(spec: EtlJobSpec): ResolvedEtlJobSpec {
  const problems: string[] = [];
  if (!JOB_NAME.test(spec.name)) problems.push(`name ${JSON.stringify(spec.name)} must match ${JOB_NAME}`);
  const resolved: ResolvedEtlJobSpec = {
    name: spec.name,
    mode: spec.mode ?? DEFAULT_SPEC.mode,
    concurrency: spec.concurrency ?? DEFAULT_SPEC.concurrency,
    batching: { ...DEFAULT_SPEC.batching, ...spec.batching },
    retry: { ...DEFAULT_SPEC.retry, ...spec.retry },
    ...(spec.toleratedFailurePercentage !== undefined
      ? { toleratedFailurePercentage: spec.toleratedFailurePercentage }
      : {}),
    ...(spec.toleratedFailureCount !== undefined
      ? { toleratedFailureCount: spec.toleratedFailureCount }
      : {}),
    childExecutionType: spec.childExecutionType ?? DEFAULT_SPEC.childExecutionType,
    timeouts: { ...DEFAULT_SPEC.timeouts, ...spec.timeouts },
    ledgerTtlDays: spec.ledgerTtlDays ?? DEFAULT_SPEC.ledgerTtlDays,
  };
  const { concurrency, batching, retry, timeouts } = resolved;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_DISTRIBUTED_CONCURRENCY) {
    problems.push(`concurrency must be an integer in 1..${MAX_DISTRIBUTED_CONCURRENCY}, got ${concurrency}`);
  }
  if (batching.maxItems !== undefined && (!Number.isInteger(batching.maxItems) || batching.maxItems < 1)) {
    problems.push(`batching.maxItems must be a positive integer, got ${batching.maxItems}`);
  }
  if (
    batching.maxBytes !== undefined &&
    (!Number.isInteger(batching.maxBytes) || batching.maxBytes < 1 || batching.maxBytes > MAX_BATCH_BYTES)
  ) {
    problems.push(
      `batching.maxBytes must be an integer in 1..${MAX_BATCH_BYTES} (256 KiB payload limit), got ${batching.maxBytes}`,
    );
  }
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 0)
    problems.push(`retry.maxAttempts must be >= 0`);
  if (retry.intervalSeconds < 1 || !Number.isInteger(retry.intervalSeconds))
    problems.push(`retry.intervalSeconds must be an integer >= 1`);
  if (retry.backoffRate < 1) problems.push(`retry.backoffRate must be >= 1`);
  const pct = resolved.toleratedFailurePercentage;
  const count = resolved.toleratedFailureCount;
  if (pct !== undefined && !(pct >= 0 && pct <= 100))
    problems.push(`toleratedFailurePercentage must be in 0..100, got ${pct}`);
  if (count !== undefined && (!Number.isInteger(count) || count < 0))
    problems.push(`toleratedFailureCount must be a non-negative integer`);
  if (resolved.mode === "inline" && (pct !== undefined || count !== undefined)) {
    problems.push(
      `tolerated failures need mode "distributed" (an inline Map fails on its first failed item)`,
    );
  }
  for (const [key, seconds] of Object.entries(timeouts)) {
    if (!Number.isInteger(seconds) || seconds < 1)
      problems.push(`timeouts.${key} must be a positive integer`);
  }
  for (const key of ["plannerSeconds", "workerSeconds", "finalizerSeconds"] as const) {
    if (timeouts[key] > MAX_LAMBDA_SECONDS)
      problems.push(`timeouts.${key} exceeds Lambda's ${MAX_LAMBDA_SECONDS}s`);
  }
  if (
    resolved.mode === "distributed" &&
    resolved.childExecutionType === "EXPRESS" &&
    timeouts.workerSeconds > MAX_EXPRESS_SECONDS
  ) {
    problems.push(
      `timeouts.workerSeconds ${timeouts.workerSeconds} exceeds an EXPRESS child's ${MAX_EXPRESS_SECONDS}s; use childExecutionType "STANDARD"`,
    );
  }
  if (problems.length > 0)
    throw new Error(`invalid ETL job spec ${JSON.stringify(spec.name)}:\n  - ${problems.join("\n  - ")}`);
  return resolved;
}
