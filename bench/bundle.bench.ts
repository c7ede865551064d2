// Lambda packaging: what the handlers MetricPipeline and EtlFleet deploy cost at cold start.
// For each handler: esbuild time, bytes (raw and gzip, what Lambda downloads), and the time a fresh
// Node process takes to import the bundle - against the same handler bundled WITHOUT minification,
// measured in the same run (the baseline). Also: is the output byte-identical across two builds?
//   npm run bench -- bundle
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { gzipSync } from "node:zlib";
import { buildSync } from "esbuild";
import {
  BUNDLE_FILE,
  bundleHandler,
  functionEntry,
  handlerBuildOptions,
  PACKAGE_ROOT,
} from "../components/bundle.js";

/** Fresh-process imports per variant: enough to steady the median on a 2-core machine. */
const IMPORT_RUNS = 7;
const HANDLERS = ["collector", "compaction-worker", "log-consumer"].filter((n) =>
  existsSync(functionEntry(n)),
);

const cacheDir = path.join(PACKAGE_ROOT, "node_modules", ".cache");
mkdirSync(cacheDir, { recursive: true });
const dir = mkdtempSync(path.join(cacheDir, "bundle-bench-"));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** ms for a fresh Node process to import the module. */
function importOnce(file: string): number {
  const script = `const t=performance.now();await import(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t));`;
  return Number(
    execFileSync(process.execPath, ["--no-warnings", "--input-type=module", "-e", script], {
      cwd: dir,
      encoding: "utf8",
    }),
  );
}

/** Median import time of two files, runs interleaved (a, b, a, b...) so neither gets the warmer disk cache. */
function importMs(a: string, b: string): [number, number] {
  importOnce(a);
  importOnce(b); // warm-up of both, not counted
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < IMPORT_RUNS; i++) {
    ta.push(importOnce(a));
    tb.push(importOnce(b));
  }
  return [median(ta), median(tb)];
}

function build(entry: string, minify: boolean): { code: string; ms: number } {
  const t = performance.now();
  const result = buildSync({ ...handlerBuildOptions(entry), minify });
  const ms = performance.now() - t;
  const code = result.outputFiles?.find((f) => f.path.endsWith(".mjs"))?.text ?? "";
  return { code, ms };
}

const rows: string[][] = [];
for (const name of HANDLERS) {
  const entry = functionEntry(name);
  const min = build(entry, true);
  const plain = build(entry, false);
  const deterministic = bundleHandler(entry).code === build(entry, true).code;
  const minFile = path.join(dir, `${name}.min.mjs`);
  const plainFile = path.join(dir, `${name}.plain.mjs`);
  writeFileSync(minFile, min.code);
  writeFileSync(plainFile, plain.code);
  const [minImport, plainImport] = importMs(minFile, plainFile);
  const kib = (s: string) => (Buffer.byteLength(s) / 1024).toFixed(1);
  const gz = (s: string) => (gzipSync(s).length / 1024).toFixed(1);
  rows.push([
    name,
    `${min.ms.toFixed(0)} ms`,
    `${kib(min.code)} / ${kib(plain.code)} KiB (${(Buffer.byteLength(min.code) / Buffer.byteLength(plain.code)).toFixed(2)}x)`,
    `${gz(min.code)} / ${gz(plain.code)} KiB`,
    `${minImport.toFixed(1)} / ${plainImport.toFixed(1)} ms (${(minImport / plainImport).toFixed(2)}x)`,
    deterministic ? "yes" : "NO",
  ]);
}

// The DuckDB layers as built by `npm run build:layer` (zip size vs Lambda's 50 MB direct-upload limit).
const layersDir = path.join(PACKAGE_ROOT, "dist", "layers");
const layerRows: string[][] = [];
if (existsSync(layersDir)) {
  for (const layer of readdirSync(layersDir).sort()) {
    const zip = path.join(dir, `${layer}.zip`);
    try {
      execFileSync("python3", [
        "-c",
        `import shutil; shutil.make_archive(${JSON.stringify(zip.slice(0, -4))}, "zip", ${JSON.stringify(path.join(layersDir, layer))})`,
      ]);
      const bytes = Number(execFileSync("stat", ["-c", "%s", zip], { encoding: "utf8" }));
      layerRows.push([
        layer,
        `${(bytes / 1e6).toFixed(1)} MB zipped`,
        `${((bytes / 50e6) * 100).toFixed(0)}% of the 50 MB limit`,
      ]);
    } catch {
      layerRows.push([layer, "could not zip (python3 missing)", ""]);
    }
  }
}
rmSync(dir, { recursive: true, force: true });

console.log(
  `handler bundles: minified (deployed) / unminified (baseline, same run); import = median of ${IMPORT_RUNS} fresh processes`,
);
const header = [
  "handler",
  "esbuild",
  "bytes min/plain",
  "gzip min/plain",
  "import min/plain",
  "identical rebuild",
];
const table = [header, ...rows];
const widths = header.map((_, i) => Math.max(...table.map((r) => (r[i] ?? "").length)));
for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i] as number)).join("  "));
if (layerRows.length > 0) {
  console.log("\nDuckDB layers (dist/layers, from npm run build:layer):");
  for (const r of layerRows) console.log(`  ${r.join("  ")}`);
}
console.log(
  `\nfile: ${BUNDLE_FILE}, node ${process.version}, ${(await import("node:os")).cpus().length} cores`,
);
