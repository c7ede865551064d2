import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { bundleHandler, functionEntry, handlerBuildOptions, PACKAGE_ROOT } from "../components/bundle.js";

// Inside node_modules/.cache so the fixture entries resolve this package's dependencies, as a user's would.
const cacheDir = path.join(PACKAGE_ROOT, "node_modules", ".cache");
mkdirSync(cacheDir, { recursive: true });
const dir = mkdtempSync(path.join(cacheDir, "observatory-bundle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeEntry(name: string, source: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, source);
  return file;
}

describe("bundleHandler", () => {
  const entry = writeEntry(
    "handler.ts",
    `import { S3Client } from "@aws-sdk/client-s3";
     import { DuckDBInstance } from "@duckdb/node-api";
     import { Command } from "commander";
     export const clients = [S3Client, DuckDBInstance];
     export async function handler(event: { name: string }): Promise<string> {
       return new Command(event.name).name() + ":" + typeof require;
     }`,
  );

  it("produces identical bytes for an unchanged handler (no redeploy)", () => {
    const a = bundleHandler(entry, { rootDir: dir });
    // A different options object bypasses the cache, so this is a second esbuild run.
    const b = bundleHandler(entry, { rootDir: dir, external: [] });
    expect(b).not.toBe(a);
    expect(b.code).toBe(a.code);
    expect(b.sourcemap).toBe(a.sourcemap);
    expect(b.hash).toBe(a.hash);
  });

  it("keeps the AWS SDK and DuckDB external, bundles the rest, and maps to relative sources", () => {
    const { code, sourcemap } = bundleHandler(entry, { rootDir: dir });
    expect(code).toMatch(/from"@aws-sdk\/client-s3"/);
    expect(code).toMatch(/from"@duckdb\/node-api"/);
    expect(code).not.toMatch(/from"commander"/);
    const map = JSON.parse(sourcemap) as { sources: string[] };
    expect(map.sources.some((s) => s.endsWith("handler.ts"))).toBe(true);
    for (const s of map.sources) expect(path.isAbsolute(s)).toBe(false);
    expect(code).not.toContain(dir);
  });

  it("emits a runnable ESM module whose handler works (CJS deps get require)", async () => {
    const plain = writeEntry(
      "plain.ts",
      `import { Command } from "commander";
       export async function handler(event: { name: string }) { return { name: new Command(event.name).name(), req: typeof require }; }`,
    );
    const { code } = bundleHandler(plain, { rootDir: dir });
    const out = path.join(dir, "plain.mjs");
    writeFileSync(out, code);
    const mod = (await import(pathToFileURL(out).href)) as {
      handler: (e: { name: string }) => Promise<unknown>;
    };
    await expect(mod.handler({ name: "wordcount" })).resolves.toEqual({ name: "wordcount", req: "function" });
  });

  it("targets node22 ESM, minified, with an external source map", () => {
    const o = handlerBuildOptions(entry);
    expect(o).toMatchObject({
      format: "esm",
      platform: "node",
      target: "node22",
      minify: true,
      sourcemap: "external",
      bundle: true,
    });
  });

  it("fails clearly for a missing entry or a compile error", () => {
    expect(() => bundleHandler(path.join(dir, "nope.ts"))).toThrow(/handler entry not found/);
    const broken = writeEntry("broken.ts", "export const x = ;");
    expect(() => bundleHandler(broken)).toThrow(/esbuild|Unexpected/);
  });
});

describe("every handler under functions/", () => {
  // Lambda has no node_modules: a bundle may only import Node built-ins, the runtime's AWS SDK and
  // the DuckDB layer. Any other bare import would fail at cold start.
  const handlers = readdirSync(path.join(PACKAGE_ROOT, "functions"), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(PACKAGE_ROOT, "functions", d.name, "handler.ts")))
    .map((d) => d.name);

  it.each(handlers)("%s bundles, importing only built-ins, @aws-sdk/* and @duckdb/*", (name) => {
    const { code } = bundleHandler(functionEntry(name));
    const specifiers = [
      ...[...code.matchAll(/\bfrom\s*"([^"]+)"/g)].map((m) => m[1] as string),
      ...[...code.matchAll(/\bimport\s*\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] as string),
      // Not inside a string: ajv keeps `'require("ajv/dist/runtime/equal")'` as text for its code generator.
      ...[...code.matchAll(/(?<!['"`])\brequire\s*\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] as string),
    ];
    // The OpenSearch client tries `import("aws-sdk")` (v2) inside a try/catch, after the v3 provider.
    const GUARDED_OPTIONAL = new Set(["aws-sdk"]);
    const foreign = specifiers.filter(
      (s) =>
        !isBuiltin(s) && !s.startsWith("@aws-sdk/") && !s.startsWith("@duckdb/") && !GUARDED_OPTIONAL.has(s),
    );
    expect(foreign).toEqual([]);
    expect(code).toMatch(/export\s*\{[^}]*\bhandler\b/);
  });

  it("covers the pipeline's own handlers", () => {
    expect(handlers).toEqual(
      expect.arrayContaining([
        "collector",
        "compaction-planner",
        "compaction-worker",
        "compaction-finalizer",
      ]),
    );
  });
});
