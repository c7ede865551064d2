import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { bundleHandler, handlerBuildOptions, PACKAGE_ROOT } from "../components/bundle.js";

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
