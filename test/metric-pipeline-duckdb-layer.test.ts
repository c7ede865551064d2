import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../components/bundle.js";
import { checkDuckdbLayerDirectory, duckdbLayerPackages } from "../components/duckdb-layer.js";

// Built outside the repository, so nothing can resolve from the repo's own node_modules by accident.
const out = mkdtempSync(path.join(tmpdir(), "observatory-layer-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

beforeAll(() => {
  execFileSync(
    process.execPath,
    ["--import", "tsx", "scripts/build-duckdb-layer.ts", "--arch", "x86_64", "--out", out],
    {
      cwd: PACKAGE_ROOT,
      stdio: "pipe",
    },
  );
}, 120_000);

describe("DuckDB layer content (x86_64, the architecture installed here)", () => {
  it("holds nodejs/node_modules with the API, the loader, the x64 binding and detect-libc, one version", () => {
    expect(readdirSync(out)).toEqual(["nodejs"]);
    for (const pkg of duckdbLayerPackages("x86_64")) {
      expect(existsSync(path.join(out, "nodejs", "node_modules", pkg, "package.json"))).toBe(true);
    }
    expect(
      existsSync(path.join(out, "nodejs", "node_modules", "@duckdb/node-bindings-linux-x64", "duckdb.node")),
    ).toBe(true);
    expect(checkDuckdbLayerDirectory(out, "x86_64")).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("runs a query with only the layer on the module path (as /opt/nodejs in Lambda)", () => {
    const probe = path.join(out, "nodejs", "probe.mjs");
    writeFileSync(
      probe,
      `import { DuckDBInstance } from "@duckdb/node-api";
       const db = await DuckDBInstance.create(":memory:");
       const c = await db.connect();
       const r = await c.runAndReadAll("SELECT 40 + 2 AS answer");
       console.log(JSON.stringify(r.getRowObjectsJson()));`,
    );
    const stdout = execFileSync(process.execPath, [probe], {
      cwd: out,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(JSON.parse(stdout.trim())).toEqual([{ answer: 42 }]);
  });

  it("is refused with the build command when the arm64 binding is missing", () => {
    expect(() => checkDuckdbLayerDirectory(out, "arm64")).toThrow(/npm run build:layer -- --arch arm64/);
    expect(() => checkDuckdbLayerDirectory(path.join(out, "nope"), "x86_64")).toThrow(
      /lacks @duckdb\/node-api/,
    );
  });
});
