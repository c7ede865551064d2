// 1,000,000 events from the Tracker to queryable Parquet through the local stack, in one process:
// Tracker -> local API Gateway -> collector -> s3rver (raw) -> `compaction` job on the local Step
// Functions runner (planner, DuckDB workers, finalizer merge) -> local query engine (DuckDB views).
//   npm run bench -- million            (EVENTS=1000000 by default; takes minutes on 2 cores)
// Reports wall time per phase and the process's peak RSS (DuckDB's memory is native, in the same process).
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { getJob } from "../etl/job-catalog.js";
import { LocalQueryEngine } from "../local/query-engine.js";
import { startLocalStack } from "../local/stack.js";
import { runLocalJob } from "../local/step-functions/local-etl.js";
import { Tracker } from "../runtime/tracker.js";
import { generateEvents } from "./compaction-data.js";

const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
/** Events tracked between flushes: under the Tracker's default 10,000-event queue, so none is dropped. */
const TRACK_SLICE = 8_000;

const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const dir = await mkdtemp(join(tmpdir(), "bench-million-"));
const stack = await startLocalStack({
  dataDir: dir,
  s3Port: 0,
  collectorPort: 0,
  dynamoPort: 0,
  quiet: true,
});
try {
  console.log(`${EVENTS.toLocaleString()} events, ${cpus().length} cores, everything in one Node process`);
  const t0 = performance.now();
  const tracker = new Tracker({ endpoint: stack.collector.url, apiKey: stack.apiKey, onError: () => {} });
  const start = new Date(Date.now() - 6 * 3_600_000);
  let tracked = 0;
  for (const e of generateEvents(EVENTS, { start, hours: 6 })) {
    // The Tracker gives every call its own event_id: the generator's repeats are new events here.
    tracker.track(e.event, e.properties, { userId: e.user_id as string, timestamp: e.event_time });
    if (++tracked % TRACK_SLICE === 0) await tracker.flush();
    if (tracked % 100_000 === 0)
      process.stdout.write(
        `  tracked ${tracked.toLocaleString()} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`,
      );
  }
  await tracker.close();
  const stats = tracker.stats();
  const t1 = performance.now();
  console.log(
    `ingest: ${((t1 - t0) / 1000).toFixed(1)} s, ${Math.round(EVENTS / ((t1 - t0) / 1000)).toLocaleString()} events/s; tracker: ${stats.requests} requests, ${stats.accepted} accepted, ${stats.rejected} rejected, dropped ${JSON.stringify(stats.dropped)}; peak RSS ${peakRssMb()} MB`,
  );

  const run = await runLocalJob({
    job: getJob("compaction"),
    s3: stack.s3.client,
    bucket: stack.bucket,
    dynamodb: stack.dynamodb.client,
  });
  const t2 = performance.now();
  const summary = JSON.parse(run.ledger?.summary ?? "{}") as {
    total_items?: number;
    output?: Record<string, unknown>;
  };
  const out = summary.output ?? {};
  console.log(
    `compaction: ${run.ledger?.status} in ${((t2 - t1) / 1000).toFixed(1)} s, ${summary.total_items} chunks, ${out.objects_consumed} raw objects, ${out.rows_in} lines, dedup ${out.duplicates_in_chunks}+${out.duplicates_against_existing}, rows ${JSON.stringify(out.rows_by_table)}; peak RSS ${peakRssMb()} MB`,
  );

  const engine = await LocalQueryEngine.open({
    s3: stack.s3.client,
    bucket: stack.bucket,
    cacheDir: join(dir, "query-cache"),
  });
  const count = await engine.query("SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events");
  engine.close();
  const t3 = performance.now();
  console.log(
    `queryable: ${JSON.stringify(count.rows[0])} after ${((t3 - t2) / 1000).toFixed(1)} s (mirror + first query)`,
  );
  console.log(
    `TOTAL Tracker -> queryable Parquet: ${((t3 - t0) / 1000).toFixed(1)} s wall; peak RSS ${peakRssMb()} MB`,
  );
} finally {
  await stack.close();
  await rm(dir, { recursive: true, force: true });
}
