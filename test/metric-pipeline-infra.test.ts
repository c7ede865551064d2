import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../components/bundle.js";
import {
  installMocks,
  type MockedResource,
  ofType,
  valueOf as outputOf,
  settle,
} from "./support/pulumi-mocks.js";

const layerDir = mkdtempSync(path.join(tmpdir(), "observatory-infra-layer-"));
afterAll(() => rmSync(layerDir, { recursive: true, force: true }));

/** The dev stack's config as `pulumi up` would pass it (Pulumi.dev.yaml), plus a secret key and this machine's layer. */
function devStackConfig(): Record<string, string> {
  const yaml = readFileSync(path.join(PACKAGE_ROOT, "Pulumi.dev.yaml"), "utf8");
  const config: Record<string, string> = {};
  for (const line of yaml.split("\n")) {
    const m = /^ {2}([a-z]+:[A-Za-z]+):\s*(.+)$/.exec(line);
    if (m) config[m[1] as string] = (m[2] as string).replace(/^"(.*)"$/, "$1");
  }
  return config;
}

let resources: MockedResource[];
let stack: typeof import("../infra/index.js");
beforeAll(async () => {
  execFileSync(
    process.execPath,
    ["--import", "tsx", "scripts/build-duckdb-layer.ts", "--arch", "x86_64", "--out", layerDir],
    { cwd: PACKAGE_ROOT, stdio: "pipe" },
  );
  const config = {
    ...devStackConfig(),
    // The arm64 binding needs the registry; this machine builds the x86_64 layer.
    "observatory:duckdbLayerArchitecture": "x86_64",
    "observatory:duckdbLayerDirectory": layerDir,
    "observatory:apiKeys": JSON.stringify(["dev-key-from-config"]),
    "observatory:alarmEmail": "oncall@example.com",
  };
  process.env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify(["observatory:apiKeys"]);
  resources = await installMocks(config);
  stack = await import("../infra/index.js");
  await outputOf(stack.collectorUrl);
  await settle();
}, 120_000);

describe("infra/index.ts (the dev stack) under mocks", () => {
  it("reads Pulumi.dev.yaml: stage, retention, throttling, schedule", async () => {
    expect(await outputOf(stack.databaseName)).toBe("observatory_dev");
    const lifecycle = ofType(
      resources,
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    ).find((r) => r.name === "metrics-bucket-lifecycle");
    const days = Object.fromEntries(
      (
        (lifecycle as MockedResource).inputs.rules as {
          filter: { prefix: string };
          expiration: { days: number };
        }[]
      ).map((r) => [r.filter.prefix, r.expiration.days]),
    );
    expect(days).toMatchObject({ "raw/": 30, "quarantine/": 90 });
    const stage = ofType(resources, "aws:apigatewayv2/stage:Stage").find((r) => r.name === "metrics-stage");
    expect(stage?.inputs.defaultRouteSettings).toEqual({
      throttlingRateLimit: 500,
      throttlingBurstLimit: 1000,
    });
    const schedule = ofType(resources, "aws:scheduler/schedule:Schedule").find(
      (r) => r.name === "metrics-compaction-schedule",
    );
    expect(schedule?.inputs.scheduleExpression).toBe("rate(1 hour)");
    const collectorLogs = ofType(resources, "aws:cloudwatch/logGroup:LogGroup").find(
      (r) => r.name === "metrics-collector-logs",
    );
    expect(collectorLogs?.inputs.retentionInDays).toBe(30);
  });

  it("uses the configured API keys, kept secret, instead of generating one", async () => {
    expect(await pulumi.isSecret(stack.apiKeys)).toBe(true);
    expect(await outputOf(stack.apiKeys)).toEqual(["dev-key-from-config"]);
    expect(ofType(resources, "random:index/randomPassword:RandomPassword")).toHaveLength(0);
  });

  it("exports the collector URL, bucket, workgroup and the state machines the CLI starts", async () => {
    expect(await outputOf(stack.batchUrl)).toMatch(/^https:\/\/.*\/v1\/batch$/);
    expect(await outputOf(stack.bucketName)).toBeTruthy();
    expect(await outputOf(stack.workgroupName)).toBeTruthy();
    expect(await outputOf(stack.compactionStateMachineArn as pulumi.Output<string>)).toMatch(
      /^arn:aws:states:/,
    );
    expect(await outputOf(stack.wordcountStateMachineArn)).toMatch(/^arn:aws:states:/);
  });

  it("shares one DuckDB layer between compaction and the log consumer", async () => {
    const layers = ofType(resources, "aws:lambda/layerVersion:LayerVersion");
    expect(layers.map((l) => l.name)).toEqual(["observatory-layer"]);
    const layerArn = await outputOf(stack.duckdbLayerArn);
    const fns = ofType(resources, "aws:lambda/function:Function").filter(
      (f) => Array.isArray(f.inputs.layers) && (f.inputs.layers as string[]).length > 0,
    );
    expect(fns.map((f) => f.name).sort()).toEqual(
      expect.arrayContaining(["metrics-compaction-worker-function"]),
    );
    for (const f of fns) {
      expect(f.inputs.layers, f.name).toEqual([layerArn]);
      // Native code: every function loading the layer runs on its architecture (x86_64 here).
      expect(f.inputs.architectures, f.name).toEqual(["x86_64"]);
    }
    expect(fns.map((f) => f.name)).toEqual(expect.arrayContaining(["logs-consumer-function"]));
  });

  it("subscribes the pipeline's functions to the log centralizer and the alarm email to the topic", async () => {
    const filters = ofType(resources, "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter");
    const groups = filters.map((f) => f.inputs.logGroup);
    const collectorGroup = await outputOf(stack.pipeline.collector.logGroup.name);
    expect(groups).toContain(collectorGroup);
    const sub = ofType(resources, "aws:sns/topicSubscription:TopicSubscription").find(
      (r) => r.name === "alarm-email",
    );
    expect(sub?.inputs).toMatchObject({
      protocol: "email",
      endpoint: "oncall@example.com",
      topic: await outputOf(stack.alarmTopicArn),
    });
  });

  it("deploys the wordcount fleet with its own bucket and the shared alarm topic", async () => {
    const alarms = ofType(resources, "aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) =>
      a.name.startsWith("wordcount-"),
    );
    expect(alarms.length).toBeGreaterThan(0);
    for (const a of alarms) expect(a.inputs.alarmActions).toEqual([await outputOf(stack.alarmTopicArn)]);
    expect(ofType(resources, "aws:s3/bucket:Bucket").map((b) => b.name)).toEqual(
      expect.arrayContaining(["metrics-bucket", "wordcount-bucket", "logs-archive"]),
    );
  });
});
