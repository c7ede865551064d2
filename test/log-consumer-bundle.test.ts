import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bundleHandler, functionEntry, PACKAGE_ROOT } from "../components/bundle.js";
import { encodeSubscriptionPayload } from "../local/log-delivery.js";

// Inside node_modules/.cache so the externals (@aws-sdk, @duckdb: the runtime and the layer on
// Lambda) resolve from this package, as they do from /var/runtime and /opt/nodejs there.
const cacheDir = path.join(PACKAGE_ROOT, "node_modules", ".cache");
mkdirSync(cacheDir, { recursive: true });
const dir = mkdtempSync(path.join(cacheDir, "log-consumer-bundle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the log consumer as LogCentralizer deploys it", () => {
  it("bundles without Pulumi and runs in a fresh Node process on a real-shaped delivery", () => {
    const { code } = bundleHandler(functionEntry("log-consumer"));
    expect(code).not.toMatch(/@pulumi\//);
    expect(code).toMatch(/from"@duckdb\/node-api"/);
    const file = path.join(dir, "index.mjs");
    writeFileSync(file, code);
    const control = encodeSubscriptionPayload({
      messageType: "CONTROL_MESSAGE",
      owner: "CloudwatchLogs",
      logGroup: "",
      logStream: "",
      subscriptionFilters: [],
      logEvents: [
        {
          id: "",
          timestamp: 1763800000000,
          message: "CWL CONTROL MESSAGE: Checking health of destination Lambda.",
        },
      ],
    });
    const script = `const { handler } = await import(${JSON.stringify(file)});
      const result = await handler(${JSON.stringify(control)});
      process.stdout.write("RESULT " + JSON.stringify(result));`;
    const out = execFileSync(process.execPath, ["--no-warnings", "--input-type=module", "-e", script], {
      cwd: dir,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", ARCHIVE_BUCKET: "archive", AWS_REGION: "us-east-1" },
    });
    expect(JSON.parse(out.slice(out.indexOf("RESULT ") + 7))).toEqual({
      status: "control",
      rows: 0,
      objects: [],
      quarantined: [],
    });
    // Its summary line is JSON too (the consumer's own log group is not subscribed, but it is read by people).
    expect(JSON.parse(out.slice(0, out.indexOf("RESULT ")).trim())).toMatchObject({
      level: "INFO",
      message: "delivery consumed",
      status: "control",
    });
  });

  it("refuses to run without its bucket, saying which variable is missing", () => {
    const file = path.join(dir, "index.mjs");
    const script = `const { handler } = await import(${JSON.stringify(file)}); await handler({});`;
    expect(() =>
      execFileSync(process.execPath, ["--no-warnings", "--input-type=module", "-e", script], {
        cwd: dir,
        encoding: "utf8",
        stdio: "pipe",
        env: { PATH: process.env.PATH ?? "" },
      }),
    ).toThrow(/ARCHIVE_BUCKET is not set/);
  });
});
