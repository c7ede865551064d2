/**
 * `observatory dev --compact-every <duration>`: runs the `compaction` ETL job on the local stack on a
 * schedule, as the EtlFleet's EventBridge schedule does on AWS (hourly by default). Runs never
 * overlap: a tick that finds the previous run still going is skipped (the finalizer's merge of a
 * partition must be the only writer of that partition - see docs/compaction.md).
 */
import type { JsonValue } from "../etl/contracts.js";
import { getJob } from "../etl/job-catalog.js";
import type { LocalStackCore, LocalStackExtra, LocalStackExtraHandle } from "./stack.js";
import { runLocalJob } from "./step-functions/local-etl.js";

/** The AWS default (MetricPipeline's schedule): compaction once an hour. */
export const DEFAULT_COMPACT_EVERY = "1h";
/** Shorter than this would mostly re-plan nothing and fight the collector for 2 cores. */
export const MIN_COMPACT_EVERY_MS = 10_000;

/** `30s`, `5m`, `1h` (or a sum: `1h30m`) -> milliseconds; `off` or `0` -> undefined (no schedule). */
export function parseDuration(text: string): number | undefined {
  const value = text.trim().toLowerCase();
  if (value === "off" || value === "0") return undefined;
  const units: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000 };
  const parts = [...value.matchAll(/(\d+)([smh])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== value) {
    throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 30s, 5m, 1h, 1h30m, or off)`);
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] as string] as number), 0);
  if (ms < MIN_COMPACT_EVERY_MS)
    throw new Error(`--compact-every must be at least ${MIN_COMPACT_EVERY_MS / 1000}s, got ${text}`);
  return ms;
}

export interface CompactionScheduleOptions {
  everyMs: number;
  /** Planner input (chunk limits), as `etl start --input`. */
  input?: JsonValue;
}

export function compactionSchedule(options: CompactionScheduleOptions): LocalStackExtra {
  return {
    name: "compaction",
    async start(core: LocalStackCore): Promise<LocalStackExtraHandle> {
      let running: Promise<void> | undefined;
      const tick = () => {
        if (running) {
          core.log("compaction: previous run still going; this tick is skipped");
          return;
        }
        running = runOnce(core, options.input)
          .catch((error) => core.log(`compaction: run failed: ${(error as Error).message}`))
          .finally(() => {
            running = undefined;
          });
      };
      const timer = setInterval(tick, options.everyMs);
      return {
        describe: [
          `every ${formatDuration(options.everyMs)} (on demand: observatory etl start compaction --local)`,
        ],
        async close() {
          clearInterval(timer);
          await running;
        },
      };
    },
  };
}

async function runOnce(core: LocalStackCore, input: JsonValue | undefined): Promise<void> {
  const { runId, ledger } = await runLocalJob({
    job: getJob("compaction"),
    s3: core.s3.client,
    bucket: core.bucket,
    dynamodb: core.dynamodb.client,
    input,
  });
  const summary = JSON.parse(ledger?.summary ?? "{}") as {
    output?: { objects_consumed?: number; rows_by_table?: Record<string, number> };
  };
  const rows = summary.output?.rows_by_table?.events ?? 0;
  core.log(
    `compaction ${runId}: ${ledger?.status ?? "unknown"}, ${summary.output?.objects_consumed ?? 0} raw objects, ${rows} new event rows`,
  );
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
