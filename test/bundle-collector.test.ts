/**
 * The deploy artifact itself: bundle functions/collector/handler.ts exactly as MetricPipeline does,
 * load the bundle in a fresh Node process (ESM, externals resolved like Lambda's runtime SDK) with
 * the environment MetricPipeline sets, send it a real-shaped API Gateway v2 event, and find the
 * events in S3 (s3rver).
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_FILE, bundleHandler, functionEntry, PACKAGE_ROOT } from "../components/bundle.js";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";

const run = promisify(execFile);
// Under node_modules/.cache: the bundle resolves @aws-sdk/* from the package's node_modules, as
// Lambda resolves them from the runtime.
const cacheDir = path.join(PACKAGE_ROOT, "node_modules", ".cache");
mkdirSync(cacheDir, { recursive: true });
const dir = mkdtempSync(path.join(cacheDir, "observatory-collector-bundle-"));
let s3: LocalS3;

beforeAll(async () => {
  s3 = await startLocalS3({ directory: path.join(dir, "s3"), port: 0, bucket: "pipeline-bucket" });
});
afterAll(async () => {
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
});

function httpApiEvent(method: string, rawPath: string, body?: string) {
  return {
    version: "2.0",
    routeKey: `${method} ${rawPath}`,
    rawPath,
    rawQueryString: "",
    headers: {
      "content-type": "application/json",
      "x-api-key": "bundle-test-key",
      "x-correlation-id": "corr-bundle-1",
      "user-agent": "bundle-test",
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.execute-api.us-east-1.amazonaws.com",
      domainPrefix: "api",
      http: {
        method,
        path: rawPath,
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.9",
        userAgent: "bundle-test",
      },
      requestId: "req-bundle-1",
      routeKey: `${method} ${rawPath}`,
      stage: "$default",
      time: "22/Nov/2026:15:00:00 +0000",
      timeEpoch: Date.now(),
    },
    body,
    isBase64Encoded: false,
  };
}

describe("the bundled collector (what Lambda runs)", () => {
  it("answers health and stores a batch in S3 with MetricPipeline's environment", async () => {
    const bundle = bundleHandler(functionEntry("collector"));
    const bundleDir = path.join(dir, "task");
    mkdirSync(bundleDir, { recursive: true });
    writeFileSync(path.join(bundleDir, BUNDLE_FILE), bundle.code);
    writeFileSync(path.join(bundleDir, `${BUNDLE_FILE}.map`), bundle.sourcemap);

    const events = [
      httpApiEvent("GET", "/v1/health"),
      httpApiEvent(
        "POST",
        "/v1/batch",
        JSON.stringify({
          batch: [
            {
              event: "Search Made",
              properties: { query: "red shoes", nResults: 12 },
              user_id: "u1",
              event_id: "11111111-1111-4111-8111-111111111111",
            },
            { event: "downloaded_img", properties: { image_id: "img-9", image_size: 2048 }, user_id: "u1" },
            { event: "downloaded_img", properties: { image_id: "img-9" } },
          ],
        }),
      ),
    ];
    const probe = path.join(bundleDir, "invoke.mjs");
    writeFileSync(
      probe,
      `import { handler } from "./index.mjs";
       const events = JSON.parse(process.argv[2]);
       const context = { awsRequestId: "lambda-req-1", functionName: "metrics-collector", getRemainingTimeInMillis: () => 10000 };
       const out = [];
       for (const e of events) out.push(await handler(e, context));
       process.stdout.write("\\n@@RESULT@@" + JSON.stringify(out));`,
    );
    const { stdout } = await run(process.execPath, ["--enable-source-maps", probe, JSON.stringify(events)], {
      cwd: bundleDir,
      env: {
        PATH: process.env.PATH ?? "",
        // What MetricPipeline sets (the keys come from Secrets Manager there; the plain list is the collector's local form).
        OBSERVATORY_BUCKET: "pipeline-bucket",
        OBSERVATORY_API_KEYS: "bundle-test-key",
        OBSERVATORY_EVENT_SCHEMAS: JSON.stringify(DEMO_EVENT_SCHEMAS),
        OBSERVATORY_SERVICE: "observatory",
        OBSERVATORY_STAGE: "dev",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
        AWS_ENDPOINT_URL_S3: s3.endpoint,
      },
    });
    const results = JSON.parse(stdout.split("@@RESULT@@")[1] as string) as {
      statusCode: number;
      body: string;
    }[];
    expect(results[0]?.statusCode).toBe(200);
    expect(results[1]?.statusCode).toBe(200);
    const response = JSON.parse(results[1]?.body as string) as {
      accepted: number;
      rejected: { index: number }[];
    };
    expect(response.accepted).toBe(2);
    expect(response.rejected.map((r) => r.index)).toEqual([2]);
    // The per-request log line the pipeline's metric filters count.
    const line = stdout
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === "batch stored");
    expect(line).toMatchObject({ accepted: 2, rejected: 1 });

    const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: "pipeline-bucket" }));
    const keys = (listed.Contents ?? []).map((o) => o.Key as string);
    const raw = keys.filter((k) => k.startsWith("raw/"));
    expect(raw).toHaveLength(1);
    expect(keys.filter((k) => k.startsWith("quarantine/"))).toHaveLength(1);
    const object = await s3.client.send(new GetObjectCommand({ Bucket: "pipeline-bucket", Key: raw[0] }));
    const lines = gunzipSync(
      Buffer.from(
        await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
      ),
    )
      .toString("utf8")
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            event: string;
            properties: Record<string, unknown>;
            stage: string;
            correlation_id: string;
          },
      );
    expect(lines.map((l) => l.event)).toEqual(["search_made", "downloaded_img"]);
    expect(lines[0]?.properties).toEqual({ query: "red shoes", n_results: 12 });
    expect(lines.every((l) => l.stage === "dev" && l.correlation_id === "corr-bundle-1")).toBe(true);
  });
});
