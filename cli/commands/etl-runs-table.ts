/**
 * The `--format table` view of `etl runs` (local and AWS): the ledger's columns (LEDGER_RUN_COLUMNS)
 * make a ~270-character row, so the table keeps what tells runs apart - id, status, attempts, when,
 * how long, item counts - within 120 columns, and lists the errors of failed runs under it. --format json and csv keep every column,
 * `results_location` (where a run's failed items are) among them.
 */
import type { LedgerRun } from "../../etl/ledger.js";
import { ellipsize, formatRows } from "../format.js";

/** Said under the table, so nobody has to guess where the other columns went. */
export const RUNS_TABLE_NOTE =
  "(more per run - finished_at, the exact times, results_location with the failed items: --format json or csv)";

/** A run id longer than this is cut in the table (generated ones are ~30 characters; a user's own may be longer). */
const MAX_RUN_ID_WIDTH = 34;

/** Seconds between two ISO times, to a tenth; undefined while the run has not finished. */
function durationSeconds(run: LedgerRun): number | undefined {
  if (!run.started_at || !run.finished_at) return undefined;
  const ms = Date.parse(run.finished_at) - Date.parse(run.started_at);
  return Number.isFinite(ms) ? Math.round(ms / 100) / 10 : undefined;
}

/**
 * One row per run, at most 120 columns with a 34-character id and six-digit counts: short headers, the start to the
 * second without its `T`/`Z`, and no error column (errors are long: runsTableErrors lists them below).
 */
export function runsTableRows(runs: readonly LedgerRun[]): Record<string, unknown>[] {
  return runs.map((run) => ({
    run: ellipsize(run.run, MAX_RUN_ID_WIDTH),
    status: run.status,
    tries: run.attempts,
    "started (UTC)": run.started_at?.replace(/^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d).*$/, "$1 $2"),
    secs: durationSeconds(run),
    items: run.total_items,
    ok: run.succeeded_items,
    failed: run.failed_items,
    skip: run.skipped_items,
  }));
}

/** The runs that ended with an error, one line each, printed under the table. */
export function runsTableErrors(runs: readonly LedgerRun[]): string[] {
  return runs.filter((run) => run.error).map((run) => `${run.run} ${run.status}: ${run.error}`);
}

/** The whole `--format table` text: the table, then the errors of the runs that have one. */
export function runsTable(runs: readonly LedgerRun[]): string {
  const errors = runsTableErrors(runs);
  const table = formatRows(runsTableRows(runs), "table");
  return errors.length === 0 ? table : `${table}\n\nerrors:\n${errors.map((e) => `  ${e}`).join("\n")}`;
}
