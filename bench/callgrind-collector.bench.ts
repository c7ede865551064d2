// Collector vs baseline in INSTRUCTIONS (valgrind's callgrind), for the same 500-event batches as
// collector.bench.ts. Instruction counts do not depend on what else the machine runs, so this ratio
// holds still where the wall-clock one moves with the neighbours' load (a shared 2-core machine). It
// does not see memory stalls: collector.bench.ts stays the measure of the goal; this one confirms it.
// Method: the driver (bench/collector-work.ts, bundled by esbuild so no loader runs under valgrind)
// runs BATCHES batches of the collector handler, of the baseline (JSON.parse + gzipSync + PutObject of
// the same bytes), or nothing, after the same warm-up; each path's count minus "nothing" is its work.
// Both body shapes of collector.bench.ts: the shared context in every event, and once per batch.
// Run: npm run bench -- callgrind   (about 10 minutes; needs valgrind: apt-get install valgrind)
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { CONTEXT_SHAPES } from "./collector-batches.js";

const here = dirname(fileURLToPath(import.meta.url));
/** Batches counted per run: enough to dwarf the warm-up's noise, few enough for valgrind (~50x slower). */
const BATCHES = 60;
/** Runs per mode; the median is kept (JIT and GC timing move a count by 1-3%). */
const REPEATS = 3;

if (spawnSync("valgrind", ["--version"]).status !== 0) {
  console.log("skipped: valgrind is not installed (apt-get install valgrind)");
  process.exit(0);
}
const dir = await mkdtemp(join(tmpdir(), "obs-callgrind-"));
try {
  const driver = join(dir, "collector-work.mjs");
  await build({
    entryPoints: [join(here, "collector-work.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: driver,
    logLevel: "warning",
    // The AWS SDK's CommonJS parts call require(): give the ESM bundle one.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  const count = (mode: string, shape: string): number => {
    // --single-threaded: V8 collects garbage on the main thread, so GC work is counted the same way every run.
    const result = spawnSync(
      "valgrind",
      [
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        process.execPath,
        "--single-threaded",
        driver,
        mode,
        String(BATCHES),
        shape,
      ],
      { encoding: "utf8", env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" } },
    );
    const collected = /Collected : (\d+)/.exec(result.stderr);
    if (result.status !== 0 || !collected)
      throw new Error(`callgrind ${mode} failed:\n${result.stderr.slice(-2000)}`);
    return Number(collected[1]);
  };
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const millions = (n: number) => `${(n / 1e6).toFixed(2)} M`;
  console.log(
    `callgrind, ${BATCHES} batches of 500 events per run, median of ${REPEATS} runs per mode, node ${process.version}`,
  );
  for (const { shape, label } of CONTEXT_SHAPES) {
    const runs: Record<string, number[]> = { none: [], collector: [], baseline: [] };
    for (let r = 0; r < REPEATS; r++)
      for (const mode of Object.keys(runs)) runs[mode]!.push(count(mode, shape));
    const none = median(runs.none!);
    const perBatch = (mode: string) => (median(runs[mode]!) - none) / BATCHES;
    const collector = perBatch("collector");
    const baseline = perBatch("baseline");
    console.log(`bodies: ${label}`);
    console.log(`  collector handler : ${millions(collector)} instructions per batch`);
    console.log(
      `  baseline          : ${millions(baseline)} instructions per batch (JSON.parse + gzipSync + PutObject of the same bytes)`,
    );
    console.log(
      `  ratio             : ${(baseline / collector).toFixed(2)}x baseline (events per instruction; goal >= 0.5x)`,
    );
    for (const mode of Object.keys(runs))
      console.log(`  raw counts ${mode.padEnd(9)}: ${runs[mode]!.map(millions).join(", ")}`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
