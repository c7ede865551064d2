/**
 * The AWS path of `observatory etl`: start an EtlFleet state machine, follow its execution and read
 * the Distributed Map's item counts, through @aws-sdk/client-sfn. Pulumi-free; the CLI and tests
 * hand in the SFNClient.
 */
import { randomUUID } from "node:crypto";
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeMapRunCommand,
  type DescribeMapRunCommandOutput,
  ListExecutionsCommand,
  type MapRunItemCounts,
  paginateListMapRuns,
  type SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { awsConfigProblem } from "../cli/aws-config.js";

/**
 * Seconds between DescribeExecution polls. The execution itself takes minutes; polling faster buys
 * nothing and eats into the account's DescribeExecution/DescribeMapRun token buckets, which other
 * tools (console, alarms) share.
 */
export const POLL_INTERVAL_MS = 2_000;
/** Upper bound of the backed-off poll interval while Step Functions throttles us. */
export const MAX_POLL_INTERVAL_MS = 30_000;
/**
 * Throttled polls in a row before `--wait` gives up. The SDK has already retried each call (standard
 * retry mode), so this many in a row means the account is saturated, not a passing burst.
 */
export const MAX_CONSECUTIVE_THROTTLES = 5;
/** Executions that have not finished: keep waiting. PENDING_REDRIVE is a failed run about to be redriven. */
const RUNNING_STATUSES = new Set(["RUNNING", "PENDING_REDRIVE"]);

/** Env var of a deployed job's resource: OBSERVATORY_<JOB>_<WHAT> (job upper-cased, non-alphanumerics as `_`). */
function jobEnvVar(job: string, what: string): string {
  return `OBSERVATORY_${job.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_${what}`;
}

/** OBSERVATORY_<JOB>_STATE_MACHINE_ARN: the EtlFleet's `stateMachineArn` output. */
export function stateMachineArnEnvVar(job: string): string {
  return jobEnvVar(job, "STATE_MACHINE_ARN");
}

/** OBSERVATORY_<JOB>_LEDGER_TABLE: the EtlFleet's `ledgerTableName` output. */
export function ledgerTableEnvVar(job: string): string {
  return jobEnvVar(job, "LEDGER_TABLE");
}

/** The ledger table of a deployed job: `--ledger-table`, else OBSERVATORY_<JOB>_LEDGER_TABLE. */
export function resolveLedgerTable(
  job: string,
  options: { ledgerTable?: string; env?: Record<string, string | undefined> } = {},
): string {
  const table = options.ledgerTable ?? options.env?.[ledgerTableEnvVar(job)];
  if (!table) {
    const envVar = ledgerTableEnvVar(job);
    throw new EtlAwsError(
      `don't know the ledger table of job "${job}": pass --ledger-table, or set ${envVar} ` +
        `(for example: export ${envVar}=$(pulumi stack output ${job}LedgerTableName)), or read the local ledger with --local`,
    );
  }
  return table;
}

const STATE_MACHINE_ARN =
  /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]+(:[A-Za-z0-9_$.-]+)?$/;
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:(execution|express):[^:]+:[^:]+/;

export interface ResolveOptions {
  /** `--state-machine-arn`: wins over everything. */
  stateMachineArn?: string;
  /** Where to look for OBSERVATORY_<JOB>_STATE_MACHINE_ARN (process.env in the CLI). */
  env?: Record<string, string | undefined>;
  /** The local alternative the error offers (the command's own: `etl status` has no --local). */
  localHint?: string;
}

/** What `etl start` offers instead of a deployed state machine. */
export const START_LOCAL_HINT = "or run it here with --local";

/**
 * Resolve `etl start <job|ARN>` to a state machine ARN: an ARN is used as is; a job name takes
 * `--state-machine-arn`, else OBSERVATORY_<JOB>_STATE_MACHINE_ARN (set it from the EtlFleet's
 * `stateMachineArn` stack output). Throws an error that says which of these to set.
 */
export function resolveStateMachineArn(target: string, options: ResolveOptions = {}): string {
  if (target.startsWith("arn:")) {
    if (!STATE_MACHINE_ARN.test(target)) {
      throw new EtlAwsError(
        `${target} is not a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)`,
      );
    }
    return target;
  }
  const candidate = options.stateMachineArn ?? options.env?.[stateMachineArnEnvVar(target)];
  if (!candidate) {
    const envVar = stateMachineArnEnvVar(target);
    throw new EtlAwsError(
      `don't know where job "${target}" is deployed: pass --state-machine-arn, or set ${envVar} ` +
        `(for example: export ${envVar}=$(pulumi stack output ${target}StateMachineArn)), ${options.localHint ?? START_LOCAL_HINT}`,
    );
  }
  if (!STATE_MACHINE_ARN.test(candidate)) {
    throw new EtlAwsError(
      `the state machine ARN given for job "${target}" is not a state machine ARN: ${candidate}`,
    );
  }
  return candidate;
}

export function assertExecutionArn(arn: string): void {
  if (!EXECUTION_ARN.test(arn)) {
    throw new EtlAwsError(
      `${arn} is not an execution ARN (arn:aws:states:<region>:<account>:execution:<machine>:<name>)`,
    );
  }
}

/** A failure of the AWS path with a message a user can act on; `code` is the AWS error name. */
export class EtlAwsError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    /** Step Functions refused for rate: the same call may succeed later. */
    readonly throttled = false,
  ) {
    super(message);
    this.name = "EtlAwsError";
  }
}

const THROTTLING_ERRORS = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "KmsThrottlingException",
]);

/** Node's socket errors: the request never got an answer from AWS. */
const NETWORK_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "EHOSTUNREACH",
]);

export function isThrottling(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return THROTTLING_ERRORS.has(e?.name ?? "") || e?.$metadata?.httpStatusCode === 429;
}

/** Turn an SDK error into an EtlAwsError saying what went wrong and what to do. */
export function explainAwsError(error: unknown, action: string, service = "Step Functions"): EtlAwsError {
  if (error instanceof EtlAwsError) return error;
  const e = error as { name?: string; message?: string; code?: string };
  const name = e?.name ?? "Error";
  const detail = e?.message ? `${name}: ${e.message}` : name;
  // No region / no credentials: the same advice as every other AWS command (cli/aws-config.ts).
  const configProblem = awsConfigProblem(error);
  if (configProblem) return new EtlAwsError(`${action}: ${configProblem}`, name);
  if (e?.code && NETWORK_ERRORS.has(e.code)) {
    return new EtlAwsError(
      `${action}: could not reach ${service} (${e.code}: ${e.message}); check the network and the region (the ARN's, --region or AWS_REGION)`,
      e.code,
    );
  }
  if (isThrottling(error)) {
    return new EtlAwsError(
      `${service} throttled ${action} (${detail}) even after the SDK's retries; wait a moment and run the command again`,
      name,
      true,
    );
  }
  switch (name) {
    case "ExecutionDoesNotExist":
      return new EtlAwsError(
        `${action}: no such execution (${detail}); check the ARN: its region and account are where it is looked up`,
        name,
      );
    case "StateMachineDoesNotExist":
      return new EtlAwsError(
        `${action}: no such state machine (${detail}); check the ARN: its region and account are where it is looked up`,
        name,
      );
    case "ResourceNotFoundException":
      return new EtlAwsError(
        `${action}: no such table (${detail}); check the name and the region (--region or AWS_REGION)`,
        name,
      );
    case "ResourceNotFound":
      return new EtlAwsError(`${action}: not found (${detail})`, name);
    case "ExecutionAlreadyExists":
      return new EtlAwsError(
        `${action}: an execution with this name already ran with other input (${detail})`,
        name,
      );
    case "ExecutionLimitExceeded":
      return new EtlAwsError(
        `${action}: the account's limit of open executions is reached (${detail}); wait for runs to finish`,
        name,
      );
    case "InvalidExecutionInput":
      return new EtlAwsError(`${action}: --input is not accepted as execution input (${detail})`, name);
    case "InvalidArn":
      return new EtlAwsError(`${action}: ${detail}`, name);
    case "AccessDeniedException":
      return new EtlAwsError(
        `${action}: access denied (${detail}); the caller's IAM policy must allow it`,
        name,
      );
    default:
      return new EtlAwsError(`${action} failed: ${detail}`, name);
  }
}

/**
 * The execution input of an EtlFleet run (etl/contracts.ts EtlExecutionInput), exactly as `--local`
 * builds it: `--input` is the planner's input; `--run-id` names the run in the ledger (re-using a
 * failed run's id resumes it). Without a run id the definition uses the execution name.
 */
export function executionInput(plannerInput: unknown, runId?: string): { run_id?: string; input: unknown } {
  return { ...(runId ? { run_id: runId } : {}), input: plannerInput };
}

/**
 * A fresh execution name: UTC time first, so runs named after it (the default run id) sort by start
 * time in the ledger, then a random suffix (a name may be used once per state machine for 90 days).
 */
export function newExecutionName(now = new Date()): string {
  return `${now.toISOString().slice(0, 19).replaceAll(":", "-")}Z-${randomUUID().slice(0, 8)}`;
}

export interface StartedExecution {
  executionArn: string;
  startDate: Date;
}

/**
 * StartExecution. A given `name` makes the start idempotent on STANDARD machines: starting the same
 * name with the same input again returns the existing execution instead of a second run.
 */
export async function startExecution(
  client: SFNClient,
  stateMachineArn: string,
  input: unknown = {},
  name?: string,
): Promise<StartedExecution> {
  try {
    const out = await client.send(
      new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input), ...(name ? { name } : {}) }),
    );
    if (!out.executionArn) throw new EtlAwsError("StartExecution returned no executionArn");
    return { executionArn: out.executionArn, startDate: out.startDate ?? new Date() };
  } catch (error) {
    throw explainAwsError(error, `starting ${stateMachineArn}`);
  }
}

/** Item counts of one Map Run, every field a number (the API leaves some undefined on older runs). */
export interface ItemCounts {
  total: number;
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  aborted: number;
  resultsWritten: number;
}

export interface MapRunSummary {
  mapRunArn: string;
  status: string;
  startDate?: Date;
  stopDate?: Date;
  maxConcurrency?: number;
  toleratedFailurePercentage?: number;
  toleratedFailureCount?: number;
  itemCounts: ItemCounts;
  executionCounts: ItemCounts;
}

export interface ExecutionReport {
  executionArn: string;
  stateMachineArn?: string;
  name?: string;
  status: string;
  startDate?: Date;
  stopDate?: Date;
  /** stop - start, or now - start while running. */
  durationMs?: number;
  error?: string;
  cause?: string;
  output?: unknown;
  mapRuns: MapRunSummary[];
  /** Sum over the execution's Map Runs (an EtlFleet has one; inline mode has none). */
  items: ItemCounts;
}

function counts(c: MapRunItemCounts | undefined): ItemCounts {
  return {
    total: c?.total ?? 0,
    pending: c?.pending ?? 0,
    running: c?.running ?? 0,
    succeeded: c?.succeeded ?? 0,
    failed: c?.failed ?? 0,
    timedOut: c?.timedOut ?? 0,
    aborted: c?.aborted ?? 0,
    resultsWritten: c?.resultsWritten ?? 0,
  };
}

function addCounts(a: ItemCounts, b: ItemCounts): ItemCounts {
  const sum = { ...a };
  for (const k of Object.keys(sum) as (keyof ItemCounts)[]) sum[k] += b[k];
  return sum;
}

const NO_ITEMS: ItemCounts = counts(undefined);

function parseOutput(output: string | undefined): unknown {
  if (output === undefined) return undefined;
  try {
    return JSON.parse(output);
  } catch {
    return output;
  }
}

function mapRunSummary(out: DescribeMapRunCommandOutput): MapRunSummary {
  return {
    mapRunArn: out.mapRunArn ?? "",
    status: out.status ?? "UNKNOWN",
    startDate: out.startDate,
    stopDate: out.stopDate,
    maxConcurrency: out.maxConcurrency,
    toleratedFailurePercentage: out.toleratedFailurePercentage,
    toleratedFailureCount: out.toleratedFailureCount,
    itemCounts: counts(out.itemCounts),
    executionCounts: counts(out.executionCounts),
  };
}

/** Every Map Run of an execution (ListMapRuns, all pages) with its DescribeMapRun details. */
export async function listMapRuns(client: SFNClient, executionArn: string): Promise<MapRunSummary[]> {
  const arns: string[] = [];
  for await (const page of paginateListMapRuns({ client }, { executionArn })) {
    for (const run of page.mapRuns ?? []) if (run.mapRunArn) arns.push(run.mapRunArn);
  }
  const runs: MapRunSummary[] = [];
  // One at a time: an execution has one Map Run per Map state, and DescribeMapRun's bucket is small.
  for (const mapRunArn of arns) {
    runs.push(mapRunSummary(await client.send(new DescribeMapRunCommand({ mapRunArn }))));
  }
  return runs;
}

function report(out: DescribeExecutionCommandOutput, mapRuns: MapRunSummary[], now: Date): ExecutionReport {
  const start = out.startDate;
  const end = out.stopDate ?? (RUNNING_STATUSES.has(out.status ?? "") ? now : undefined);
  return {
    executionArn: out.executionArn ?? "",
    stateMachineArn: out.stateMachineArn,
    name: out.name,
    status: out.status ?? "UNKNOWN",
    startDate: start,
    stopDate: out.stopDate,
    durationMs: start && end ? end.getTime() - start.getTime() : undefined,
    error: out.error,
    cause: out.cause,
    output: parseOutput(out.output),
    mapRuns,
    items: mapRuns.map((r) => r.itemCounts).reduce(addCounts, NO_ITEMS),
  };
}

/** DescribeExecution + its Map Runs' item counts: what `etl status` prints. */
export async function describeExecution(
  client: SFNClient,
  executionArn: string,
  now = new Date(),
): Promise<ExecutionReport> {
  assertExecutionArn(executionArn);
  try {
    const out = await client.send(new DescribeExecutionCommand({ executionArn }));
    // ListMapRuns is only meaningful once the Map state began; before that it returns an empty list.
    const mapRuns = await listMapRuns(client, executionArn);
    return report(out, mapRuns, now);
  } catch (error) {
    throw explainAwsError(error, `describing ${executionArn}`);
  }
}

/** The most recently started execution of a state machine (what `etl status <job>` shows). */
export async function latestExecutionArn(client: SFNClient, stateMachineArn: string): Promise<string> {
  try {
    const out = await client.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1 }));
    const latest = out.executions?.[0]?.executionArn;
    if (!latest)
      throw new EtlAwsError(
        `${stateMachineArn} has no executions yet; start one with \`observatory etl start\``,
      );
    return latest;
  } catch (error) {
    throw explainAwsError(error, `listing executions of ${stateMachineArn}`);
  }
}

export function isFinished(status: string): boolean {
  return !RUNNING_STATUSES.has(status);
}

/** The user stopped `--wait` (Ctrl-C); the execution itself keeps running on AWS. */
export class WaitStopped extends EtlAwsError {
  constructor(readonly executionArn: string) {
    super(`stopped waiting; the execution keeps running: observatory etl status ${executionArn}`);
    this.name = "WaitStopped";
  }
}

export interface WaitOptions {
  pollIntervalMs?: number;
  /** Called after every successful poll (progress bars). */
  onProgress?: (report: ExecutionReport) => void;
  /** Injected in tests so that waiting costs no wall time. */
  sleep?: (ms: number) => Promise<void>;
  signal?: AbortSignal;
}

/** setTimeout that an abort (Ctrl-C) ends early, so stopping a wait never lingers a poll interval. */
function abortableSleep(signal: AbortSignal | undefined) {
  return (ms: number) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
}

/**
 * Poll until the execution leaves RUNNING; returns its final report. Throttling backs the poll
 * interval off (doubling, capped) instead of failing the wait, until MAX_CONSECUTIVE_THROTTLES in a row.
 */
export async function waitForExecution(
  client: SFNClient,
  executionArn: string,
  options: WaitOptions = {},
): Promise<ExecutionReport> {
  const base = options.pollIntervalMs ?? POLL_INTERVAL_MS;
  const sleep = options.sleep ?? abortableSleep(options.signal);
  let interval = base;
  let throttled = 0;
  for (;;) {
    if (options.signal?.aborted) throw new WaitStopped(executionArn);
    try {
      const current = await describeExecution(client, executionArn);
      throttled = 0;
      interval = base;
      options.onProgress?.(current);
      if (isFinished(current.status)) return current;
    } catch (error) {
      if (!(error instanceof EtlAwsError && error.throttled)) throw error;
      throttled++;
      if (throttled >= MAX_CONSECUTIVE_THROTTLES) throw error;
      interval = Math.min(interval * 2, MAX_POLL_INTERVAL_MS);
    }
    await sleep(interval);
  }
}
