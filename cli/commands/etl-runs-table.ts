/**
 * The `--format table` view of `etl runs` (local and AWS): the ledger's columns (LEDGER_RUN_COLUMNS)
 * make a ~270-character row, so the table keeps what tells runs apart - id, status, attempts, when,
 * how long, item counts, error - within 120 columns. --format json and csv keep every column,
 * `results_location` (where a run's failed items are) among them.
 */
import type { LedgerRun } from "../../etl/ledger.js";

/** Said under the table, so nobody has to guess where the other columns went. */
export const RUNS_TABLE_NOTE =
  "(more per run - finished_at, planned items, results_location with the failed items: --format json or csv)";

/** Seconds between two ISO times, to a tenth; undefined while the run has not finished. */
function durationSeconds(run: LedgerRun): number | undefined {
  if (!run.started_at || !run.finished_at) return undefined;
  const ms = Date.parse(run.finished_at) - Date.parse(run.started_at);
  return Number.isFinite(ms) ? Math.round(ms / 100) / 10 : undefined;
}

export function runsTableRows(runs: readonly LedgerRun[]): Record<string, unknown>[] {
  return runs.map((run) => ({
    run: run.run,
    status: run.status,
    attempts: run.attempts,
    // Whole seconds: the milliseconds only widen the column.
    started_at: run.started_at?.replace(/\.\d+Z$/, "Z"),
    duration_s: durationSeconds(run),
    items: run.total_items,
    succeeded: run.succeeded_items,
    failed: run.failed_items,
    skipped: run.skipped_items,
    error: run.error,
  }));
}
