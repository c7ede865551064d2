// Bytes scanned by each named query vs the gzip NDJSON the rows came from (goal: at least 20x less).
//
// A seeded data set (test/query-fixtures.ts: realistic events of four kinds over 30 hours, plus
// quarantined ones) is written to a local s3rver's raw zone exactly as the collector writes it, then
// compacted by the compaction job's own functions (planner -> workers -> finalizer, the code the
// EtlFleet runs). Each named query's Athena scan is estimated from the plan and Parquet footers
// (query/scan-estimate.ts); the baseline, measured in the same run, is the gzip NDJSON of the raw zone:
// what Athena would scan answering the same question over the raw JSON (it reads every byte of it).
//
//   npm run bench -- query            (EVENTS=200000 by default; e.g. EVENTS=50000 npm run bench -- query)
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { compactChunks, finalizeCompaction, planCompaction } from "../functions/compaction/job.js";
import { LocalQueryEngine } from "../local/query-engine.js";
import { startLocalS3 } from "../local/s3-server.js";
import { formatBytes, formatUsd } from "../query/athena-pricing.js";
import { NAMED_QUERIES } from "../query/named-queries.js";
import { estimateScan } from "../query/scan-estimate.js";
import { writeRawZone } from "../test/query-fixtures.js";

/** Events in the data set: enough for realistic Parquet pages and dictionaries, quick on 2 cores. */
const EVENTS = Number(process.env.EVENTS ?? 200_000);
const GOAL_RATIO = 20;

const dir = await mkdtemp(join(tmpdir(), "obs-query-bench-"));
const s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
try {
  const raw = await writeRawZone({
    s3: s3.client,
    bucket: s3.bucket,
    workDir: join(dir, "work"),
    events: EVENTS,
  });
  const deps = {
    s3: s3.client,
    bucket: s3.bucket,
    schemas: DEMO_EVENT_SCHEMAS,
    tempDirectory: join(dir, "tmp"),
  };
  await mkdir(deps.tempDirectory, { recursive: true });
  const compactStart = performance.now();
  const chunks = await planCompaction(deps, { run_id: "bench", input: {} });
  await compactChunks(deps, "bench", chunks);
  await finalizeCompaction(deps, "bench");
  const compactMs = performance.now() - compactStart;

  const engine = await LocalQueryEngine.open({
    s3: s3.client,
    bucket: s3.bucket,
    cacheDir: join(dir, "cache"),
  });
  try {
    console.log(
      `machine: ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown cpu"}, node ${process.version}`,
    );
    console.log(`data set: ${EVENTS} events (+${raw.quarantine.length} quarantined), seed 42`);
    console.log(
      `baseline: raw zone gzip NDJSON = ${formatBytes(raw.rawGzipBytes)} (${raw.rawGzipBytes} bytes) of events, ${formatBytes(raw.quarantineGzipBytes)} of quarantined events`,
    );
    console.log(
      `compaction (${chunks.length} chunks, H7's job functions): ${(compactMs / 1000).toFixed(1)} s`,
    );
    console.log("");
    console.log(
      "| named query | tables | rows | bytes scanned (Athena estimate) | its raw gzip NDJSON / scanned | local run | Athena price |",
    );
    console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    let worst = Number.POSITIVE_INFINITY;
    for (const query of NAMED_QUERIES) {
      const estimate = await estimateScan(engine, query.sql);
      const start = performance.now();
      const result = await engine.query(query.sql);
      const ms = performance.now() - start;
      // The raw JSON the rows came from: the quarantine zone for the quarantine table, else the raw zone.
      const baseline = estimate.scans.every((s) => s.table === "quarantine")
        ? raw.quarantineGzipBytes
        : raw.rawGzipBytes;
      const ratio = baseline / Math.max(1, estimate.bytesScanned);
      worst = Math.min(worst, ratio);
      const tables = [...new Set(estimate.scans.map((s) => s.table))].join(", ");
      console.log(
        `| ${query.name} | ${tables} | ${result.rows.length} | ${formatBytes(estimate.bytesScanned)} | ${ratio.toFixed(1)}x | ${ms.toFixed(0)} ms | ${formatUsd(estimate.priceUsd)} |`,
      );
    }
    const all = await estimateScan(engine, "SELECT * FROM events");
    console.log(
      `| (SELECT * FROM events, for scale) | events | - | ${formatBytes(all.bytesScanned)} | ${(raw.rawGzipBytes / all.bytesScanned).toFixed(1)}x | - | ${formatUsd(all.priceUsd)} |`,
    );
    console.log("");
    console.log(
      `worst named query: ${worst.toFixed(1)}x less than the raw gzip NDJSON (goal >= ${GOAL_RATIO}x): ${worst >= GOAL_RATIO ? "met" : "NOT met"}`,
    );
  } finally {
    engine.close();
  }
} finally {
  await s3.close();
  await rm(dir, { recursive: true, force: true });
}
