import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { tablesReadBy } from "../components/metric-pipeline/named-query-tables.js";
import type { MetricPipeline as MetricPipelineType } from "../components/metric-pipeline.js";
import { NAMED_QUERIES } from "../query/named-queries.js";
import {
  installMocks,
  type MockedResource,
  ofType,
  valueOf as outputOf,
  settle,
} from "./support/pulumi-mocks.js";

interface Doc {
  Statement: { Action: string[]; Resource: string[] }[];
}
const KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const LAYER_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:duckdb-arm64:3";

let resources: MockedResource[];
let kms: MetricPipelineType;
let minimal: MetricPipelineType;
const of = (prefix: string, type: string) =>
  ofType(resources, type).filter((r) => r.name.startsWith(`${prefix}-`));
const one = (prefix: string, type: string, name: string) =>
  of(prefix, type).find((r) => r.name === name) as MockedResource;

beforeAll(async () => {
  resources = await installMocks();
  const { MetricPipeline } = await import("../components/metric-pipeline.js");
  kms = new MetricPipeline("kms", {
    kmsKeyArn: KMS_KEY,
    alarmTopicArn: "arn:aws:sns:us-east-1:123456789012:oncall",
    compaction: { duckdbLayer: { arn: LAYER_ARN }, schedule: "cron(5 * * * ? *)", concurrency: 4 },
    transform: {
      bucket: { tags: { team: "data" } },
      workgroup: (args) => {
        args.description = "changed by transform";
      },
    },
  });
  minimal = new MetricPipeline("minimal", { compaction: false });
  await outputOf(kms.collectorUrl);
  await outputOf(minimal.collectorUrl);
  await settle();
});

describe("a customer-managed KMS key", () => {
  it("encrypts the bucket with a bucket key, the secret and Athena results with it", () => {
    const enc = one(
      "kms",
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      "kms-bucket-encryption",
    );
    expect(enc.inputs.rules).toEqual([
      {
        applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: KMS_KEY },
        bucketKeyEnabled: true,
      },
    ]);
    expect(one("kms", "aws:secretsmanager/secret:Secret", "kms-api-keys").inputs.kmsKeyId).toBe(KMS_KEY);
    const wg = one("kms", "aws:athena/workgroup:Workgroup", "kms-workgroup").inputs.configuration as {
      resultConfiguration: unknown;
    };
    expect(wg.resultConfiguration).toMatchObject({
      encryptionConfiguration: { encryptionOption: "SSE_KMS", kmsKeyArn: KMS_KEY },
    });
  });

  it("lets exactly the functions that write objects use the key, on that key only", () => {
    for (const name of [
      "kms-collector-policy",
      "kms-compaction-worker-policy",
      "kms-compaction-planner-policy",
      // The compaction state machine reads its manifest and writes Map results under the key.
      "kms-compaction-policy",
    ]) {
      const doc = JSON.parse(
        one("kms", "aws:iam/rolePolicy:RolePolicy", name).inputs.policy as string,
      ) as Doc;
      const kmsGrant = doc.Statement.find((s) => s.Action.some((a) => a.startsWith("kms:")));
      expect(kmsGrant, name).toEqual(
        expect.objectContaining({ Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: [KMS_KEY] }),
      );
    }
  });
});

describe("options", () => {
  it("uses a given alarm topic instead of creating one, for its alarms and the fleet's", () => {
    expect(of("kms", "aws:sns/topic:Topic")).toHaveLength(0);
    for (const alarm of of("kms", "aws:cloudwatch/metricAlarm:MetricAlarm")) {
      expect(alarm.inputs.alarmActions, alarm.name).toEqual(["arn:aws:sns:us-east-1:123456789012:oncall"]);
    }
  });

  it("uses a given layer ARN (no layer built), the schedule and the concurrency", () => {
    expect(of("kms", "aws:lambda/layerVersion:LayerVersion")).toHaveLength(0);
    expect(one("kms", "aws:lambda/function:Function", "kms-compaction-worker-function").inputs).toMatchObject(
      { layers: [LAYER_ARN], architectures: ["arm64"] },
    );
    expect(
      one("kms", "aws:scheduler/schedule:Schedule", "kms-compaction-schedule").inputs.scheduleExpression,
    ).toBe("cron(5 * * * ? *)");
    expect(kms.compaction?.spec.concurrency).toBe(4);
  });

  it("applies transforms: an object merged over the defaults, or a function editing them", () => {
    expect(one("kms", "aws:s3/bucket:Bucket", "kms-bucket").inputs.tags).toEqual({ team: "data" });
    expect(one("kms", "aws:athena/workgroup:Workgroup", "kms-workgroup").inputs.description).toBe(
      "changed by transform",
    );
  });

  it("without keys, generates one 40-character alphanumeric key, as a secret", async () => {
    const generated = one("minimal", "random:index/randomPassword:RandomPassword", "minimal-api-key");
    expect(generated.inputs).toMatchObject({ length: 40, special: false });
    expect(await pulumi.isSecret(minimal.apiKeys)).toBe(true);
    expect(await pulumi.isSecret(minimal.apiKeysSecretVersion.secretString)).toBe(true);
  });

  it("ingest-only: no fleet, no layer; only the named queries over its own tables", () => {
    expect(minimal.compaction).toBeUndefined();
    expect(of("minimal", "aws:sfn/stateMachine:StateMachine")).toHaveLength(0);
    expect(minimal.monitoring.compactionStaleAlarm).toBeUndefined();
    expect(
      of("minimal", "aws:cloudwatch/metricAlarm:MetricAlarm")
        .map((a) => a.name)
        .sort(),
    ).toEqual(["minimal-api-5xx", "minimal-collector-errors", "minimal-rejected-ratio"]);
    const names = of("minimal", "aws:glue/catalogTable:CatalogTable")
      .map((t) => t.inputs.name)
      .sort();
    expect(names).toEqual(["events", "quarantine"]);
    const queries = of("minimal", "aws:athena/namedQuery:NamedQuery")
      .map((q) => q.inputs.name)
      .sort();
    const overOwnTables = NAMED_QUERIES.filter((q) =>
      tablesReadBy(q.sql).every((t) => t === "events" || t === "quarantine"),
    ).map((q) => q.name);
    expect(queries).toEqual([...overOwnTables].sort());
    expect(queries.length).toBeGreaterThan(0);
    expect(queries).not.toContain("popular_searches");
  });
});

describe("tablesReadBy", () => {
  it("finds FROM and JOIN tables, not table functions, CTEs or words in strings", () => {
    expect(tablesReadBy("SELECT reason FROM quarantine CROSS JOIN UNNEST(reasons) AS r (reason)")).toEqual([
      "quarantine",
    ]);
    expect(
      tablesReadBy("WITH recent AS (SELECT * FROM events) SELECT * FROM recent JOIN search_made s ON true"),
    ).toEqual(["events", "search_made"]);
    expect(tablesReadBy("SELECT 'from downloaded_img' AS x FROM \"events\" -- join uploaded_img\n")).toEqual([
      "events",
    ]);
  });
});

describe("query access for other roles", () => {
  it("scopes Athena to the workgroup, Glue to the database, S3 to tables/ and athena-results/, KMS to the key", async () => {
    const { policyDocument } = await import("../components/iam.js");
    const doc = JSON.parse(await outputOf(policyDocument(kms.queryStatements()))) as Doc;
    const grants = Object.fromEntries(doc.Statement.map((s) => [s.Action[0] as string, s.Resource]));
    const bucketArn = await outputOf(kms.bucket.arn);
    const db = await outputOf(kms.databaseName);
    expect(grants["athena:GetNamedQuery"]).toEqual([await outputOf(kms.workgroup.arn)]);
    expect(grants["glue:GetDatabase"]).toEqual([
      "arn:aws:glue:us-east-1:123456789012:catalog",
      `arn:aws:glue:us-east-1:123456789012:database/${db}`,
      `arn:aws:glue:us-east-1:123456789012:table/${db}/*`,
    ]);
    expect(grants["s3:GetObject"]).toEqual([`${bucketArn}/tables/*`, `${bucketArn}/athena-results/*`]);
    expect(grants["s3:AbortMultipartUpload"]).toEqual([`${bucketArn}/athena-results/*`]);
    expect(grants["kms:Decrypt"]).toEqual([KMS_KEY]);
    for (const s of doc.Statement) for (const a of s.Action) expect(a).not.toContain("*");
    expect(minimal.queryStatements().some((s) => s.Action.some((a) => a.startsWith("kms:")))).toBe(false);
  });

  it("answers browsers' preflight for the given origins only when asked", async () => {
    const { MetricPipeline } = await import("../components/metric-pipeline.js");
    const web = new MetricPipeline("web", {
      compaction: false,
      cors: { allowOrigins: ["https://shop.example.com"] },
    });
    await outputOf(web.collectorUrl);
    await settle();
    expect(one("web", "aws:apigatewayv2/api:Api", "web-api").inputs.corsConfiguration).toEqual({
      allowOrigins: ["https://shop.example.com"],
      allowMethods: ["GET", "POST"],
      allowHeaders: ["content-type", "content-encoding", "x-api-key", "x-correlation-id"],
      exposeHeaders: ["x-correlation-id", "retry-after"],
      maxAge: 3600,
    });
    expect(
      one("minimal", "aws:apigatewayv2/api:Api", "minimal-api").inputs.corsConfiguration,
    ).toBeUndefined();
  });

  it("caps the collector's concurrency when asked (back pressure)", async () => {
    const { MetricPipeline } = await import("../components/metric-pipeline.js");
    const capped = new MetricPipeline("capped", {
      compaction: false,
      collector: { reservedConcurrency: 20, memorySize: 1024 },
    });
    await outputOf(capped.collector.arn);
    await settle();
    expect(one("capped", "aws:lambda/function:Function", "capped-collector-function").inputs).toMatchObject({
      reservedConcurrentExecutions: 20,
      memorySize: 1024,
    });
  });
});
