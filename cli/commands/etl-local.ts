/**
 * The local branch of `observatory etl`: `etl start <job> --local` runs the job's generated definition
 * on this machine (local/step-functions) with a progress bar and a final summary, and `etl runs <job>
 * --local` reads the local ledger. cli/commands/etl.ts (the command definitions) calls these.
 */
import cliProgress from "cli-progress";
import { checkRunId, type JsonValue } from "../../etl/contracts.js";
import { getJob } from "../../etl/job-catalog.js";
import { LEDGER_RUN_COLUMNS, type LedgerRun, listRuns } from "../../etl/ledger.js";
import { itemsOf, readRunResults } from "../../etl/map-results.js";
import { useStackSchemas } from "../../local/event-schemas.js";
import { dataDirOf, type LocalStackTargetOptions } from "../../local/stack-connection.js";
import type { MapProgress } from "../../local/step-functions/distributed-map.js";
import { LOCAL_LEDGER_TABLE, runLocalJob } from "../../local/step-functions/local-etl.js";
import { connectLocalPeers, type LocalPeers } from "../../local/step-functions/peers.js";
import { formatRows, type OutputFormat } from "../format.js";
import { RUNS_TABLE_NOTE, runsTable } from "./etl-runs-table.js";
import { summaryTableRows } from "./etl-summary-table.js";

/** dataDir, s3Endpoint, dynamodbEndpoint: where the local stack is (local/stack-connection.ts). */
export interface EtlLocalStartOptions extends LocalStackTargetOptions {
  input?: string;
  runId?: string;
  format?: OutputFormat;
  /** Worker threads for the job's workers (0: in this process). */
  threads?: number;
}

export interface EtlLocalIo {
  out?: (text: string) => void;
  /** Progress and notes go to stderr so that `--format json` on stdout stays parseable. */
  err?: NodeJS.WritableStream;
  /** Tests hand in their own peers. */
  peers?: LocalPeers;
  retryIntervalOverrides?: Record<string, number | number[]>;
}

/** Failed items listed in the summary; the rest are in the FAILED_n.json files under results_location. */
const MAX_FAILED_ITEMS_SHOWN = 20;

export function parseJsonInput(text: string | undefined): JsonValue {
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new Error(`--input is not JSON: ${(error as Error).message}`);
  }
}

function parseS3Url(url: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(url);
  return match ? { bucket: match[1]!, prefix: match[2]! } : undefined;
}

/** The failed items of a run's latest attempt, from its ResultWriter FAILED_n.json files. */
async function lastFailedItems(
  peers: LocalPeers,
  ledger: LedgerRun | undefined,
): Promise<{ id: string; error: string; cause: string }[]> {
  const location = ledger?.results_location ? parseS3Url(ledger.results_location) : undefined;
  if (!location) return [];
  const last = (await readRunResults(peers.s3, location)).at(-1);
  return (last?.failed ?? []).flatMap((r) =>
    itemsOf(r).map((item) => ({ id: item.id, error: r.Error ?? "", cause: r.Cause ?? "" })),
  );
}

export async function etlStartLocal(
  jobName: string,
  options: EtlLocalStartOptions,
  io: EtlLocalIo = {},
): Promise<number> {
  const out = io.out ?? ((text: string) => console.log(text));
  const err = io.err ?? process.stderr;
  const job = getJob(jobName);
  const input = parseJsonInput(options.input);
  if (options.runId !== undefined) checkRunId(options.runId);
  const format = options.format ?? "table";
  const peers = io.peers ?? (await connectLocalPeers(options));
  for (const note of peers.notes) err.write(`${note}\n`);
  // The stack's declared schemas (dev wrote them to the data directory), not this shell's variable.
  useStackSchemas(dataDirOf(options));
  const bar = new cliProgress.SingleBar(
    {
      stream: err,
      format: "{bar} {done}/{total} items | failed {failed} | in flight {inFlight}",
      hideCursor: false,
      noTTYOutput: true,
      notTTYSchedule: 2000,
    },
    cliProgress.Presets.shades_classic,
  );
  let barStarted = false;
  const onMapProgress = (p: MapProgress) => {
    const done = p.succeeded_items + p.failed_items;
    const payload = { done, failed: p.failed_items, inFlight: p.in_flight };
    if (!barStarted) {
      bar.start(p.total_items, done, payload);
      barStarted = true;
    } else {
      bar.setTotal(p.total_items);
      bar.update(done, payload);
    }
  };
  const started = Date.now();
  try {
    const run = await runLocalJob({
      job,
      s3: peers.s3,
      bucket: peers.bucket,
      dynamodb: peers.dynamodb,
      input,
      runId: options.runId,
      seed: true,
      workerThreads: options.threads,
      s3Endpoint: peers.s3Endpoint,
      onMapProgress,
      retryIntervalOverrides: io.retryIntervalOverrides,
    });
    if (barStarted) bar.stop();
    const { result, ledger } = run;
    const summary =
      result.status === "SUCCEEDED" ? (result.output as Record<string, JsonValue> | null) : null;
    // The AlreadySucceeded state ends with the execution's input, not with a RunSummary.
    const alreadyDone = result.status === "SUCCEEDED" && summary !== null && !("total_items" in summary);
    const failedItems =
      result.status === "FAILED" || (ledger?.failed_items ?? 0) > 0
        ? await lastFailedItems(peers, ledger)
        : [];
    const row = {
      job: jobName,
      run_id: run.runId,
      status: alreadyDone ? "ALREADY_SUCCEEDED" : result.status,
      items_total:
        ledger?.total_items ??
        (ledger?.planned_items !== undefined ? ledger.planned_items + (ledger.skipped_items ?? 0) : null),
      succeeded: ledger?.succeeded_items ?? null,
      failed: ledger?.failed_items ?? (failedItems.length > 0 ? failedItems.length : null),
      skipped: ledger?.skipped_items ?? null,
      attempts: ledger?.attempts ?? null,
      duration_s: Number(((Date.now() - started) / 1000).toFixed(2)),
      error: result.status === "FAILED" ? result.error : null,
      cause: result.status === "FAILED" ? result.cause : null,
      results_location: ledger?.results_location ?? null,
      output: alreadyDone
        ? ledger?.summary
          ? ((JSON.parse(ledger.summary) as { output?: JsonValue }).output ?? null)
          : null
        : (summary?.output ?? null),
    };
    if (format === "json") {
      out(JSON.stringify({ ...row, failed_items: failedItems }, null, 2));
    } else {
      if (format === "csv") {
        out(formatRows([row], format));
      } else {
        // One run: a vertical field | value table, its output one row per key, nested values cut to fit.
        const table = summaryTableRows(row);
        out(formatRows(table.rows, format));
        if (table.abbreviated)
          err.write("(output abbreviated to fit the terminal: --format json or csv prints it whole)\n");
      }
      if (failedItems.length > 0) {
        err.write(
          `\nfailed items (${failedItems.length}${failedItems.length > MAX_FAILED_ITEMS_SHOWN ? `, first ${MAX_FAILED_ITEMS_SHOWN}` : ""}):\n`,
        );
        err.write(`${formatRows(failedItems.slice(0, MAX_FAILED_ITEMS_SHOWN), "table")}\n`);
      }
      if (alreadyDone) err.write(`run ${run.runId} had already SUCCEEDED: nothing was redone\n`);
    }
    return result.status === "SUCCEEDED" ? 0 : 1;
  } finally {
    if (barStarted) bar.stop();
    if (!io.peers) await peers.close();
  }
}

export async function etlRunsLocal(
  jobName: string,
  options: LocalStackTargetOptions & { format?: OutputFormat; limit?: number },
  io: EtlLocalIo = {},
): Promise<number> {
  const out = io.out ?? ((text: string) => console.log(text));
  const err = io.err ?? process.stderr;
  getJob(jobName);
  const peers = io.peers ?? (await connectLocalPeers(options));
  if (!io.peers) for (const note of peers.notes) err.write(`${note}\n`);
  try {
    const runs = await listRuns(peers.dynamodb, LOCAL_LEDGER_TABLE, jobName, options.limit).catch(
      (error: Error) => {
        if (error.name === "ResourceNotFoundException") return [];
        throw error;
      },
    );
    const format = options.format ?? "table";
    if (runs.length === 0 && format !== "json") out(`no runs of ${jobName} in the local ledger`);
    else if (format === "table") {
      out(runsTable(runs));
      err.write(`${RUNS_TABLE_NOTE}\n`);
    } else out(formatRows(runs as unknown as Record<string, unknown>[], format, LEDGER_RUN_COLUMNS));
    return 0;
  } finally {
    if (!io.peers) await peers.close();
  }
}
