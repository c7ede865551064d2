/**
 * The AWS branch of `observatory etl`: `etl start <job|ARN>` without --local, and `etl status <execution ARN>`.
 * The logic is in etl/aws-client.ts; this file turns it into terminal output. cli/commands/etl.ts
 * (the command definitions) calls these two functions.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SFNClient } from "@aws-sdk/client-sfn";
import cliProgress from "cli-progress";
import {
  describeExecution,
  EtlAwsError,
  type ExecutionReport,
  executionInput,
  explainAwsError,
  latestExecutionArn,
  newExecutionName,
  resolveLedgerTable,
  resolveStateMachineArn,
  startExecution,
  WaitStopped,
  waitForExecution,
} from "../../etl/aws-client.js";
import { checkRunId } from "../../etl/contracts.js";
import { LEDGER_RUN_COLUMNS, listRuns } from "../../etl/ledger.js";
import { awsClientConfig } from "../aws-config.js";
import { formatRows, type OutputFormat } from "../format.js";
import { RUNS_TABLE_NOTE, runsTable } from "./etl-runs-table.js";

export interface EtlAwsStartOptions {
  /** The planner's input (JSON), as with --local. */
  input?: string;
  /** The run's id in the ledger; re-using a failed run's id resumes it, a succeeded one is not redone. */
  runId?: string;
  wait?: boolean;
  /** Execution name (default: UTC time + random suffix); starting the same name and input again is a no-op. */
  name?: string;
  stateMachineArn?: string;
  /** `--region`; the state machine ARN's own region wins (a call elsewhere could not find it). */
  region?: string;
  format?: OutputFormat;
}

export interface EtlAwsStatusOptions {
  format?: OutputFormat;
  /** Follow the execution until it ends (progress, then exit 0 only when it SUCCEEDED). */
  wait?: boolean;
  stateMachineArn?: string;
  /** `--region`; an execution or state machine ARN's own region wins. */
  region?: string;
}

export interface EtlAwsRunsOptions {
  format?: OutputFormat;
  ledgerTable?: string;
  limit?: number;
  region?: string;
}

/** What the functions write to and talk to; the CLI uses the defaults, tests inject their own. */
export interface EtlAwsIo {
  client?: SFNClient;
  dynamodb?: DynamoDBClient;
  env?: Record<string, string | undefined>;
  out?: (text: string) => void;
  /** Progress and notes; stderr, so that `--format json` on stdout stays parseable. */
  err?: NodeJS.WritableStream;
  sleep?: (ms: number) => Promise<void>;
  /** Stops `--wait` (tests); the CLI wires Ctrl-C to it. */
  signal?: AbortSignal;
}

/** 128 + SIGINT, what shells report for a command stopped with Ctrl-C. */
export const INTERRUPTED_EXIT_CODE = 130;

/** Columns of `etl status` / `etl start --wait`, one row per Map Run (one row when there is none). */
export const STATUS_COLUMNS = [
  "execution",
  "status",
  "started",
  "stopped",
  "duration_s",
  "map_run",
  "map_run_status",
  "items_total",
  "succeeded",
  "failed",
  "timed_out",
  "aborted",
  "running",
  "pending",
  "results_written",
  "error",
  "cause",
] as const;

function shortName(arn: string): string {
  return arn.split(":").slice(-2).join(":");
}

export function statusRows(report: ExecutionReport): Record<string, unknown>[] {
  const execution = {
    execution: shortName(report.executionArn),
    status: report.status,
    started: report.startDate,
    stopped: report.stopDate,
    duration_s: report.durationMs === undefined ? undefined : Math.round(report.durationMs / 100) / 10,
    error: report.error,
    cause: report.cause,
  };
  if (report.mapRuns.length === 0) return [execution];
  return report.mapRuns.map((run) => ({
    ...execution,
    map_run: run.mapRunArn.split(":mapRun:")[1] ?? run.mapRunArn,
    map_run_status: run.status,
    items_total: run.itemCounts.total,
    succeeded: run.itemCounts.succeeded,
    failed: run.itemCounts.failed,
    timed_out: run.itemCounts.timedOut,
    aborted: run.itemCounts.aborted,
    running: run.itemCounts.running,
    pending: run.itemCounts.pending,
    results_written: run.itemCounts.resultsWritten,
  }));
}

/**
 * json: the whole report; csv: one row per Map Run; table: a `field | value` block per Map Run (one
 * row of 17 columns would be ~250 characters wide), leaving out what the execution does not have.
 */
function render(report: ExecutionReport, format: OutputFormat): string {
  if (format === "json") return JSON.stringify(report, null, 2);
  if (format === "csv") return formatRows(statusRows(report), format, [...STATUS_COLUMNS]);
  return statusRows(report)
    .map((row) =>
      formatRows(
        STATUS_COLUMNS.filter((field) => row[field] !== undefined).map((field) => ({
          field,
          value: row[field],
        })),
        format,
      ),
    )
    .join("\n\n");
}

function parseInput(input: string | undefined): unknown {
  if (input === undefined) return {};
  try {
    return JSON.parse(input);
  } catch (error) {
    throw new EtlAwsError(`--input is not JSON: ${(error as Error).message}`);
  }
}

/** Progress of a waited-for run: a bar on a terminal, a line per change otherwise (CI logs). */
function progressReporter(stream: NodeJS.WritableStream) {
  const tty = (stream as NodeJS.WriteStream).isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  let last = "";
  return {
    update(report: ExecutionReport) {
      const { total, succeeded, failed, timedOut, aborted } = report.items;
      const done = succeeded + failed + timedOut + aborted;
      const line = `${report.status} items ${done}/${total} (failed ${failed + timedOut + aborted})`;
      if (tty) {
        bar ??= new cliProgress.SingleBar(
          {
            stream,
            format: "{status} [{bar}] {value}/{total} items | failed {failed} | {duration_formatted}",
          },
          cliProgress.Presets.shades_classic,
        );
        if (!bar.isActive) bar.start(total, done, { status: report.status, failed: 0 });
        bar.setTotal(total);
        bar.update(done, { status: report.status, failed: failed + timedOut + aborted });
      } else if (line !== last) {
        stream.write(`${line}\n`);
      }
      last = line;
    },
    stop() {
      bar?.stop();
    },
  };
}

/** Exit status of a finished run: 0 only when it SUCCEEDED. */
export function exitCodeFor(report: ExecutionReport): number {
  return report.status === "SUCCEEDED" ? 0 : 1;
}

/** `etl start <job|ARN>` on AWS. Without --wait prints the execution ARN; with it, the final status. */
export async function etlStartOnAws(
  target: string,
  options: EtlAwsStartOptions,
  io: EtlAwsIo = {},
): Promise<number> {
  const out = io.out ?? ((text: string) => console.log(text));
  const err = io.err ?? process.stderr;
  const stateMachineArn = resolveStateMachineArn(target, {
    stateMachineArn: options.stateMachineArn,
    env: io.env ?? process.env,
  });
  const client =
    io.client ?? new SFNClient(awsClientConfig({ region: options.region, arn: stateMachineArn }));
  // Same rule as --local: a run id is a key prefix in S3 and the ledger, so refuse `/` and friends here.
  if (options.runId !== undefined) checkRunId(options.runId);
  const input = executionInput(parseInput(options.input), options.runId);
  const started = await startExecution(client, stateMachineArn, input, options.name ?? newExecutionName());
  const format = options.format ?? "table";
  if (!options.wait) {
    const row = { execution_arn: started.executionArn, started: started.startDate };
    out(format === "json" ? JSON.stringify(row, null, 2) : formatRows([row], format));
    return 0;
  }
  err.write(`started ${started.executionArn}\n`);
  return follow(client, started.executionArn, format, io);
}

/**
 * Waits for an execution with progress on stderr and prints its final status; exit 0 only when it
 * SUCCEEDED. Ctrl-C stops waiting, not the run: it says how to follow it and exits 130.
 */
async function follow(
  client: SFNClient,
  executionArn: string,
  format: OutputFormat,
  io: EtlAwsIo,
): Promise<number> {
  const out = io.out ?? ((text: string) => console.log(text));
  const err = io.err ?? process.stderr;
  const progress = progressReporter(err);
  const stop = new AbortController();
  const signal = io.signal ?? stop.signal;
  const onInterrupt = () => stop.abort();
  process.once("SIGINT", onInterrupt);
  try {
    const final = await waitForExecution(client, executionArn, {
      onProgress: progress.update,
      sleep: io.sleep,
      signal,
    });
    progress.stop();
    out(render(final, format));
    return exitCodeFor(final);
  } catch (error) {
    if (!(error instanceof WaitStopped)) throw error;
    progress.stop();
    err.write(`${error.message}\n`);
    return INTERRUPTED_EXIT_CODE;
  } finally {
    process.removeListener("SIGINT", onInterrupt);
    progress.stop();
  }
}

/**
 * `etl status <execution ARN|job|state machine ARN>`: status, timings and Map Run item counts of an
 * execution; given a job or a state machine, of its most recent execution.
 */
export async function etlStatusOnAws(
  target: string,
  options: EtlAwsStatusOptions,
  io: EtlAwsIo = {},
): Promise<number> {
  const out = io.out ?? ((text: string) => console.log(text));
  const isExecution = /:(execution|express):/.test(target);
  const stateMachineArn = isExecution
    ? undefined
    : resolveStateMachineArn(target, {
        stateMachineArn: options.stateMachineArn,
        env: io.env ?? process.env,
        // `etl status` has no --local: local runs are in the local ledger.
        localHint: `or see local runs with: observatory etl runs ${target} --local`,
      });
  // Either ARN names the region the execution lives in.
  const client =
    io.client ?? new SFNClient(awsClientConfig({ region: options.region, arn: stateMachineArn ?? target }));
  const executionArn = stateMachineArn ? await latestExecutionArn(client, stateMachineArn) : target;
  if (options.wait) return follow(client, executionArn, options.format ?? "table", io);
  const report = await describeExecution(client, executionArn);
  out(render(report, options.format ?? "table"));
  return 0;
}

/** `etl runs <job>` on AWS: the job's recent runs from its DynamoDB ledger, newest first. */
export async function etlRunsOnAws(
  job: string,
  options: EtlAwsRunsOptions,
  io: EtlAwsIo = {},
): Promise<number> {
  const out = io.out ?? ((text: string) => console.log(text));
  const table = resolveLedgerTable(job, { ledgerTable: options.ledgerTable, env: io.env ?? process.env });
  const dynamodb = io.dynamodb ?? new DynamoDBClient(awsClientConfig({ region: options.region }));
  const runs = await listRuns(dynamodb, table, job, options.limit).catch((error: unknown) => {
    throw explainAwsError(error, `reading the ledger ${table}`, "DynamoDB");
  });
  const format = options.format ?? "table";
  if (runs.length === 0 && format !== "json") out(`no runs of ${job} in the ledger ${table}`);
  else if (format === "table") {
    out(runsTable(runs));
    (io.err ?? process.stderr).write(`${RUNS_TABLE_NOTE}\n`);
  } else out(formatRows(runs as unknown as Record<string, unknown>[], format, LEDGER_RUN_COLUMNS));
  return 0;
}
