// Compaction throughput per worker vs DuckDB's own COPY on the same raw input, in the same run.
//   npm run bench -- compaction        (EVENTS=200000 to change the size)
// 1. transform only (local files -> Parquet): our worker's DuckDB step (explicit schema, dedup, events
//    table + per-event tables) vs the baseline `COPY (SELECT * FROM read_json(...)) TO ... (FORMAT parquet,
//    COMPRESSION zstd)`. Same files, same DuckDB settings, alternating, best of ROUNDS.
// 2. the whole job through s3rver (plan -> worker -> finalizer merge), for the end-to-end rate.
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { openDuckDB, sqlString, sqlStringList } from "../functions/compaction/duckdb.js";
import { compactChunks, finalizeCompaction, planCompaction } from "../functions/compaction/job.js";
import { listObjects } from "../functions/compaction/s3-files.js";
import { eventTables } from "../functions/compaction/tables.js";
import { compactFiles } from "../functions/compaction/transform.js";
import { startLocalS3 } from "../local/s3-server.js";
import { writeRawFiles } from "./compaction-data.js";

const EVENTS = Number(process.env.EVENTS ?? 200_000);
/** Collector objects hold one request each: 500 events is a full Tracker batch. */
const EVENTS_PER_OBJECT = 500;
/** Rounds run baseline and ours back to back; the ratio is taken per round (adjacent runs share the
 * machine's load, which on a shared 2-core box swings by several x) and the median reported. */
const ROUNDS = 7;

async function directoryBytes(directory: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(directory, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith(".parquet"))
      total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

const work = await mkdtemp(join(tmpdir(), "bench-compaction-"));
try {
  await mkdir(join(work, "raw"));
  const raw = await writeRawFiles(join(work, "raw"), EVENTS, {
    start: new Date("2026-11-22T10:00:00Z"),
    hours: 3,
    eventsPerObject: EVENTS_PER_OBJECT,
  });
  console.log(
    `input: ${EVENTS.toLocaleString()} events in ${raw.files.length} gzip NDJSON objects, ${(raw.bytes / 1e6).toFixed(1)} MB; ${cpus().length} cores; DuckDB threads = cores`,
  );

  const db = await openDuckDB({ tempDirectory: join(work, "duckdb") });
  const tables = eventTables(DEMO_EVENT_SCHEMAS);
  // As the worker does: one more connection per extra core for the per-partition COPYs.
  const writers = await Promise.all(
    Array.from({ length: Math.max(0, cpus().length - 1) }, () => db.connect()),
  );
  const ours: number[] = [];
  const oursEventsOnly: number[] = [];
  const base: number[] = [];
  // Process CPU time (every DuckDB thread) of each side: the work done, much less swayed by the other
  // processes on the machine than wall time.
  const oursCpu: number[] = [];
  const baseCpu: number[] = [];
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  let oursEventsBytes = 0;
  let oursAllBytes = 0;
  let baseBytes = 0;
  let rowsOut = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const outBase = join(work, `base-${round}`);
    await mkdir(outBase);
    let t = performance.now();
    let cpu = process.cpuUsage();
    await db.connection.run(
      `COPY (SELECT * FROM read_json(${sqlStringList(raw.files)}, format = 'newline_delimited', compression = 'gzip')) TO ${sqlString(join(outBase, "out.parquet"))} (FORMAT parquet, COMPRESSION zstd)`,
    );
    base.push(performance.now() - t);
    baseCpu.push(cpuMs(cpu));
    baseBytes = await directoryBytes(outBase);

    const outOurs = join(work, `ours-${round}`);
    await mkdir(outOurs);
    t = performance.now();
    cpu = process.cpuUsage();
    const result = await compactFiles(db.connection, {
      kind: "events",
      inputFiles: raw.files,
      tables,
      outDirectory: outOurs,
      writers,
    });
    ours.push(performance.now() - t);
    oursCpu.push(cpuMs(cpu));
    rowsOut = result.rowsByTable.events ?? 0;
    oursEventsBytes = await directoryBytes(join(outOurs, "events"));
    oursAllBytes = await directoryBytes(outOurs);
    const outEventsOnly = join(work, `ours-events-${round}`);
    await mkdir(outEventsOnly);
    t = performance.now();
    await compactFiles(db.connection, {
      kind: "events",
      inputFiles: raw.files,
      tables: tables.slice(0, 1),
      outDirectory: outEventsOnly,
      writers,
    });
    oursEventsOnly.push(performance.now() - t);
    await rm(outEventsOnly, { recursive: true });
    await rm(outBase, { recursive: true });
    await rm(outOurs, { recursive: true });
  }
  db.close();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const oursRate = EVENTS / (median(ours) / 1000);
  const baseRate = EVENTS / (median(base) / 1000);
  const ratios = base.map((b, i) => b / (ours[i] as number));
  const eventsOnlyRatios = base.map((b, i) => b / (oursEventsOnly[i] as number));
  const range = (xs: number[]) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`;
  console.log("\n1) transform (local files), median of", ROUNDS, "rounds");
  console.log(
    `   baseline DuckDB COPY read_json -> parquet zstd : ${median(base).toFixed(0)} ms  ${Math.round(baseRate).toLocaleString()} rows/s  ${(baseBytes / 1e6).toFixed(2)} MB`,
  );
  console.log(
    `   compaction worker (dedup, events + ${tables.length - 1} per-event tables): ${median(ours).toFixed(0)} ms  ${Math.round(oursRate).toLocaleString()} rows/s`,
  );
  console.log(
    `   ratio rows/s ours/baseline, per round: median ${median(ratios).toFixed(2)}x, range ${range(ratios)} (goal >= 0.7x)`,
  );
  const cpuRatios = baseCpu.map((b, i) => b / (oursCpu[i] as number));
  console.log(
    `   CPU time per round: baseline median ${median(baseCpu).toFixed(0)} ms, ours ${median(oursCpu).toFixed(0)} ms; ratio baseline/ours median ${median(cpuRatios).toFixed(2)}x, range ${range(cpuRatios)}`,
  );
  const eventsOnlyRate = EVENTS / (median(oursEventsOnly) / 1000);
  console.log(
    `   events table only (no per-event tables): ${median(oursEventsOnly).toFixed(0)} ms  ${Math.round(eventsOnlyRate).toLocaleString()} rows/s; ratio per round: median ${median(eventsOnlyRatios).toFixed(2)}x, range ${range(eventsOnlyRatios)}`,
  );
  console.log(
    `   events table bytes ${(oursEventsBytes / 1e6).toFixed(2)} MB = ${(oursEventsBytes / baseBytes).toFixed(2)}x baseline (goal <= 1.1x); all tables ${(oursAllBytes / 1e6).toFixed(2)} MB`,
  );
  console.log(`   rows out (events, after dedup): ${rowsOut.toLocaleString()}`);

  // 2) The whole job through s3rver: upload the raw objects, plan, one worker per chunk in turn, finalize.
  const s3 = await startLocalS3({ directory: join(work, "s3"), port: 0 });
  try {
    for (const [i, file] of raw.files.entries()) {
      await s3.client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: raw.keys[i] as string, Body: await readFile(file) }),
      );
    }
    const deps = { s3: s3.client, bucket: s3.bucket, schemas: DEMO_EVENT_SCHEMAS };
    const t0 = performance.now();
    const chunks = await planCompaction(deps, { run_id: "bench", input: {} });
    const t1 = performance.now();
    for (const chunk of chunks) await compactChunks(deps, "bench", [chunk]);
    const t2 = performance.now();
    const output = await finalizeCompaction(deps, "bench");
    const t3 = performance.now();
    const eventBytes = (await listObjects(s3.client, s3.bucket, "tables/events/")).reduce(
      (s, o) => s + o.size,
      0,
    );
    console.log("\n2) whole job through s3rver (S3 GET/PUT included)");
    console.log(
      `   plan ${(t1 - t0).toFixed(0)} ms (${chunks.length} chunks), workers ${(t2 - t1).toFixed(0)} ms, finalizer ${(t3 - t2).toFixed(0)} ms (${output.partitions_written} partitions)`,
    );
    console.log(
      `   end to end ${Math.round(EVENTS / ((t3 - t0) / 1000)).toLocaleString()} rows/s; worker alone ${Math.round(EVENTS / ((t2 - t1) / 1000)).toLocaleString()} rows/s; events table ${(eventBytes / 1e6).toFixed(2)} MB`,
    );
  } finally {
    await s3.close();
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
