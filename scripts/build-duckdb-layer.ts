/**
 * `npm run build:layer [-- --arch arm64|x86_64] [--out DIR] [--duckdb-version V]`: the content of the
 * DuckDB Lambda layer, dist/layers/duckdb-<arch>/nodejs/node_modules/{@duckdb/node-api,
 * @duckdb/node-bindings, @duckdb/node-bindings-linux-<x64|arm64>, detect-libc}, all at one DuckDB
 * version (default: the installed one). Packages installed here at that version are copied; the rest
 * (the arm64 binding on this x86_64 machine) are fetched from the npm registry with `npm pack` - the
 * one step that needs the registry. DuckDB publishes per-platform bindings separately, and a release
 * may lack one platform for a while: then pass `--duckdb-version` of one that has it.
 */
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { PACKAGE_ROOT } from "../components/bundle.js";
import {
  checkDuckdbLayerDirectory,
  defaultDuckdbLayerDirectory,
  duckdbLayerPackages,
  type LambdaArchitecture,
} from "../components/duckdb-layer.js";

const { values } = parseArgs({
  options: {
    arch: { type: "string", default: "arm64" },
    out: { type: "string" },
    "duckdb-version": { type: "string" },
  },
});
const arch = values.arch as LambdaArchitecture;
if (arch !== "arm64" && arch !== "x86_64") {
  console.error(`--arch must be arm64 or x86_64, got ${JSON.stringify(values.arch)}`);
  process.exit(2);
}
const out = path.resolve(values.out ?? defaultDuckdbLayerDirectory(arch));
const modules = path.join(out, "nodejs", "node_modules");

const installed = (pkg: string) => path.join(PACKAGE_ROOT, "node_modules", pkg);
const installedVersion = (pkg: string): string | undefined =>
  existsSync(installed(pkg))
    ? (JSON.parse(readFileSync(path.join(installed(pkg), "package.json"), "utf8")) as { version: string })
        .version
    : undefined;
const version = values["duckdb-version"] ?? (installedVersion("@duckdb/node-api") as string);

rmSync(out, { recursive: true, force: true });
mkdirSync(modules, { recursive: true });
for (const pkg of duckdbLayerPackages(arch)) {
  const target = path.join(modules, pkg);
  // detect-libc is the loader's optional probe: any installed version will do.
  if (existsSync(installed(pkg)) && (!pkg.startsWith("@duckdb/") || installedVersion(pkg) === version)) {
    cpSync(installed(pkg), target, { recursive: true });
    console.log(`copied   ${pkg}`);
    continue;
  }
  // Not installed for this machine's architecture: fetch the same version's tarball.
  const spec = `${pkg}@${pkg.startsWith("@duckdb/") ? version : "latest"}`;
  const work = mkdtempSync(path.join(tmpdir(), "duckdb-layer-"));
  try {
    let tarball: string | undefined;
    try {
      tarball = execFileSync("npm", ["pack", spec, "--pack-destination", work], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      })
        .trim()
        .split("\n")
        .pop();
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? "");
      console.error(
        `npm pack ${spec} failed${/ETARGET|notarget/.test(stderr) ? ": that version is not published for this platform" : ""}.`,
      );
      console.error(
        `Published versions: npm view ${pkg} versions; then rerun with --duckdb-version <one of them>.`,
      );
      process.exit(1);
    }
    mkdirSync(target, { recursive: true });
    execFileSync("tar", ["-xzf", path.join(work, tarball as string), "-C", target, "--strip-components=1"]);
    console.log(`fetched  ${spec}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
const checked = checkDuckdbLayerDirectory(out, arch);
console.log(`DuckDB ${checked} layer for ${arch}: ${out}`);
