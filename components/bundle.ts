import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { type BuildOptions, buildSync } from "esbuild";

/** Root of this package: our own handlers live under `functions/<name>/handler.ts` here. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The Lambda runtime the bundles target (nodejs22.x). */
export const LAMBDA_NODE_TARGET = "node22";

/**
 * Modules never bundled: the AWS SDK v3 ships in the nodejs22.x runtime; DuckDB is native code and
 * comes from a layer built for the function's architecture (components/duckdb-layer.ts).
 */
export const BUNDLE_EXTERNALS: readonly string[] = ["@aws-sdk/*", "@duckdb/*"];

/**
 * ESM output still meets CommonJS dependencies that call `require`/`__dirname`; this banner gives
 * them what Node's CJS wrapper would. Constant text, so it does not disturb determinism.
 */
const ESM_REQUIRE_SHIM = [
  'import { createRequire as __observatoryCreateRequire } from "node:module";',
  'import { fileURLToPath as __observatoryFileURLToPath } from "node:url";',
  'import { dirname as __observatoryDirname } from "node:path";',
  "const require = __observatoryCreateRequire(import.meta.url);",
  "const __filename = __observatoryFileURLToPath(import.meta.url);",
  "const __dirname = __observatoryDirname(__filename);",
].join("\n");

/** File name of the bundle inside the archive; the Lambda handler is `index.handler`. */
export const BUNDLE_FILE = "index.mjs";
export const BUNDLE_HANDLER = "index.handler";

export interface BundleOptions {
  /** Extra modules to leave out of the bundle (they must come from a layer). */
  external?: string[];
  /**
   * Directory the source map's paths are relative to. Defaults to this package's root for our own
   * handlers and the current directory otherwise, so paths never hold a machine's absolute layout.
   */
  rootDir?: string;
  /** Minify (default true): smaller cold start, and the source map keeps stack traces readable. */
  minify?: boolean;
}

export interface Bundle {
  /** Absolute path of the entry that was bundled. */
  entry: string;
  code: string;
  sourcemap: string;
  /** sha256 of code + map: equal hashes mean Pulumi sees no change and does not redeploy. */
  hash: string;
}

/** Absolute path of one of our own handlers, `functions/<name>/handler.ts`. */
export function functionEntry(name: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name))
    throw new Error(`function name must be kebab-case: ${JSON.stringify(name)}`);
  return path.join(PACKAGE_ROOT, "functions", name, "handler.ts");
}

/** The esbuild options every handler is built with (also used by scripts/bundle-functions.ts). */
export function handlerBuildOptions(entry: string, options: BundleOptions = {}): BuildOptions {
  const absEntry = path.resolve(entry);
  const rootDir =
    options.rootDir ?? (absEntry.startsWith(PACKAGE_ROOT + path.sep) ? PACKAGE_ROOT : process.cwd());
  return {
    entryPoints: [absEntry],
    absWorkingDir: rootDir,
    bundle: true,
    format: "esm",
    platform: "node",
    target: LAMBDA_NODE_TARGET,
    external: [...BUNDLE_EXTERNALS, ...(options.external ?? [])],
    minify: options.minify ?? true,
    sourcemap: "external",
    sourcesContent: false,
    // Stable output name inside the bundle: the map's `file` and the sourceMappingURL comment.
    outfile: path.join(rootDir, "dist", "bundle", BUNDLE_FILE),
    banner: { js: ESM_REQUIRE_SHIM },
    // Prefer the ESM entry of dual packages.
    mainFields: ["module", "main"],
    conditions: ["module", "import", "node"],
    legalComments: "none",
    logLevel: "silent",
    write: false,
  };
}

const cache = new Map<string, Bundle>();

/**
 * Bundle one handler entry with esbuild. Synchronous (component constructors are) and cached by
 * entry and options, so several functions sharing a handler bundle it once per program.
 */
export function bundleHandler(entry: string, options: BundleOptions = {}): Bundle {
  const absEntry = path.resolve(entry);
  const key = JSON.stringify([absEntry, options]);
  const cached = cache.get(key);
  if (cached) return cached;
  if (!existsSync(absEntry)) throw new Error(`handler entry not found: ${absEntry}`);

  const result = buildSync(handlerBuildOptions(absEntry, options));
  if (result.errors.length > 0) {
    throw new Error(`esbuild failed for ${absEntry}:\n${result.errors.map((e) => e.text).join("\n")}`);
  }
  const files = result.outputFiles ?? [];
  const code = files.find((f) => f.path.endsWith(".mjs"))?.text;
  const sourcemap = files.find((f) => f.path.endsWith(".mjs.map"))?.text;
  if (code === undefined || sourcemap === undefined)
    throw new Error(`esbuild produced no bundle for ${absEntry}`);
  const hash = createHash("sha256").update(code).update("\0").update(sourcemap).digest("hex");
  const bundle: Bundle = { entry: absEntry, code, sourcemap, hash };
  cache.set(key, bundle);
  return bundle;
}

/**
 * A handler as Lambda `code`: an archive with `index.mjs` and its source map (set
 * NODE_OPTIONS=--enable-source-maps to use it). Handler name: `index.handler`.
 */
export function handlerArchive(entry: string, options: BundleOptions = {}): pulumi.asset.AssetArchive {
  const bundle = bundleHandler(entry, options);
  return new pulumi.asset.AssetArchive({
    [BUNDLE_FILE]: new pulumi.asset.StringAsset(bundle.code),
    [`${BUNDLE_FILE}.map`]: new pulumi.asset.StringAsset(bundle.sourcemap),
  });
}
