import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleHandler, functionEntry, PACKAGE_ROOT } from "../components/bundle.js";
import type { MetricPipeline as MetricPipelineType } from "../components/metric-pipeline.js";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { EVENTS_COLUMNS, eventSchemaColumns, QUARANTINE_COLUMNS } from "../contracts/events-table.js";
import { NAMED_QUERIES } from "../query/named-queries.js";
import {
  installMocks,
  type MockedResource,
  ofType,
  valueOf as outputOf,
  settle,
  typeChain,
} from "./support/pulumi-mocks.js";

interface Doc {
  Statement: {
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Principal?: unknown;
    Condition?: Record<string, Record<string, unknown>>;
  }[];
}
const list = (x: string | string[]) => (Array.isArray(x) ? x : [x]);

let resources: MockedResource[];
let MetricPipeline: typeof MetricPipelineType;
let pipeline: MetricPipelineType;
const layerDir = mkdtempSync(path.join(tmpdir(), "observatory-pipeline-layer-"));
afterAll(() => rmSync(layerDir, { recursive: true, force: true }));

/** Resources registered by one pipeline: its children's logical names all start with its name. */
const of = (prefix: string, type: string) => ofType(resources, type).filter((r) => r.name.startsWith(prefix));
const one = (prefix: string, type: string, name: string) => {
  const r = of(prefix, type).find((x) => x.name === name);
  if (!r)
    throw new Error(
      `no ${type} named ${name}; have ${of(prefix, type)
        .map((x) => x.name)
        .join(", ")}`,
    );
  return r;
};
const policyOf = (prefix: string, name: string) =>
  JSON.parse(one(prefix, "aws:iam/rolePolicy:RolePolicy", name).inputs.policy as string) as Doc;

beforeAll(async () => {
  // The layer this machine can build without the registry: x86_64 (the functions follow its architecture).
  execFileSync(
    process.execPath,
    ["--import", "tsx", "scripts/build-duckdb-layer.ts", "--arch", "x86_64", "--out", layerDir],
    {
      cwd: PACKAGE_ROOT,
      stdio: "pipe",
    },
  );
  resources = await installMocks();
  ({ MetricPipeline } = await import("../components/metric-pipeline.js"));
  pipeline = new MetricPipeline("metrics", {
    stage: "dev",
    eventSchemas: DEMO_EVENT_SCHEMAS,
    apiKeys: pulumi.secret(["key-one", "key-two"]),
    rawRetentionDays: 14,
    quarantineRetentionDays: 60,
    logRetentionDays: 7,
    throttling: { rateLimit: 50, burstLimit: 100 },
    athena: { bytesScannedCutoffPerQuery: 1024 ** 3 },
    compaction: { duckdbLayer: { architecture: "x86_64", directory: layerDir } },
  });
  await outputOf(pipeline.collectorUrl);
  await outputOf(pipeline.compaction?.stateMachineArn ?? "");
  await settle();
}, 120_000);

describe("MetricPipeline resource graph", () => {
  it("parents every child to the component (directly or through its own components)", async () => {
    const children = [
      pipeline.bucket,
      pipeline.bucketPolicy,
      pipeline.apiKeysSecret,
      pipeline.api,
      pipeline.stage,
      pipeline.database,
      pipeline.workgroup,
      pipeline.monitoring.dashboard,
      ...Object.values(pipeline.tables),
      ...Object.values(pipeline.namedQueries),
    ];
    for (const child of children)
      expect(await typeChain(child)).toMatch(/^observatory:aws:MetricPipeline\$aws:/);
    // A URN's type names the immediate parent's type, so nesting is checked one level at a time.
    expect(await typeChain(pipeline.collector)).toBe(
      "observatory:aws:MetricPipeline$observatory:aws:LambdaFunction",
    );
    expect(await typeChain(pipeline.collector.function)).toBe(
      "observatory:aws:LambdaFunction$aws:lambda/function:Function",
    );
    expect(await typeChain(pipeline.compaction as pulumi.Resource)).toBe(
      "observatory:aws:MetricPipeline$observatory:aws:EtlFleet",
    );
    expect(await typeChain(pipeline.compaction?.stateMachine as pulumi.Resource)).toBe(
      "observatory:aws:EtlFleet$aws:sfn/stateMachine:StateMachine",
    );
    expect(await typeChain(pipeline.duckdbLayer as pulumi.Resource)).toBe(
      "observatory:aws:MetricPipeline$observatory:aws:DuckdbLayer",
    );
  });

  it("exposes the outputs a stack exports", async () => {
    expect(await outputOf(pipeline.collectorUrl)).toMatch(/^https:\/\/.*execute-api/);
    expect(await outputOf(pipeline.bucketName)).toBeTruthy();
    expect(await outputOf(pipeline.databaseName)).toBe("observatory_dev");
    expect(await outputOf(pipeline.workgroupName)).toBeTruthy();
    expect(await outputOf(pipeline.alarmTopicArn)).toMatch(/^arn:aws:sns:/);
  });
});

describe("bucket", () => {
  it("is encrypted, private, owner-enforced", () => {
    const enc = one(
      "metrics",
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
      "metrics-bucket-encryption",
    );
    expect(enc.inputs.rules).toEqual([
      { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true },
    ]);
    const pab = one(
      "metrics",
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
      "metrics-bucket-public-access",
    );
    expect(pab.inputs).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    const own = one(
      "metrics",
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
      "metrics-bucket-ownership",
    );
    expect(own.inputs.rule).toEqual({ objectOwnership: "BucketOwnerEnforced" });
  });

  it("denies every request that is not TLS, on the bucket and its objects", () => {
    const policy = JSON.parse(
      one("metrics", "aws:s3/bucketPolicy:BucketPolicy", "metrics-bucket-policy").inputs.policy as string,
    ) as Doc;
    expect(policy.Statement).toHaveLength(1);
    const [deny] = policy.Statement;
    expect(deny).toMatchObject({
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    expect(list(deny?.Resource ?? [])).toEqual([
      expect.stringMatching(/^arn:aws:s3:::[^/]+$/),
      expect.stringMatching(/^arn:aws:s3:::[^/]+\/\*$/),
    ]);
  });

  it("expires raw and quarantine after the given days, never the tables or the compaction state", () => {
    const rules = one(
      "metrics",
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
      "metrics-bucket-lifecycle",
    ).inputs.rules as { id: string; filter: { prefix: string }; expiration: { days: number } }[];
    const byPrefix = Object.fromEntries(rules.map((r) => [r.filter.prefix, r.expiration.days]));
    expect(byPrefix["raw/"]).toBe(14);
    expect(byPrefix["quarantine/"]).toBe(60);
    expect(byPrefix["athena-results/"]).toBe(7);
    for (const prefix of Object.keys(byPrefix)) {
      expect(prefix.startsWith("tables/")).toBe(false);
      expect(["etl/", "etl/compaction/"]).not.toContain(prefix);
    }
  });
});

describe("collector", () => {
  it("is an arm64 nodejs22.x function bundled from functions/collector with the contract's env vars", async () => {
    const fn = one("metrics", "aws:lambda/function:Function", "metrics-collector-function");
    expect(fn.inputs).toMatchObject({
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      handler: "index.handler",
    });
    const env = (fn.inputs.environment as { variables: Record<string, string> }).variables;
    expect(env).toMatchObject({ OBSERVATORY_SERVICE: "observatory", OBSERVATORY_STAGE: "dev" });
    expect(env.OBSERVATORY_BUCKET).toBe(await outputOf(pipeline.bucketName));
    expect(env.OBSERVATORY_API_KEYS_SECRET_ARN).toBe(await outputOf(pipeline.apiKeysSecret.arn));
    expect(JSON.parse(env.OBSERVATORY_EVENT_SCHEMAS as string)).toEqual(DEMO_EVENT_SCHEMAS);
    // Mocks serialize the archive without its assets; the bundle itself is checked directly.
    expect((fn.inputs.code as { __pulumiArchive?: boolean }).__pulumiArchive).toBe(true);
    const bundle = bundleHandler(functionEntry("collector"));
    expect(bundle.code).toMatch(/export\s*\{[^}]*\bhandler\b/);
    expect(bundle.code).toMatch(/from"@aws-sdk\/client-s3"/);
  });

  it("may only put raw/ and quarantine/ objects, read its own secret and write its own logs", async () => {
    const doc = policyOf("metrics", "metrics-collector-policy");
    const bucketArn = await outputOf(pipeline.bucket.arn);
    const grants = doc.Statement.map((s) => ({
      actions: list(s.Action).sort(),
      resources: list(s.Resource).sort(),
    }));
    expect(grants).toEqual(
      expect.arrayContaining([
        { actions: ["s3:PutObject"], resources: [`${bucketArn}/quarantine/*`, `${bucketArn}/raw/*`] },
        {
          actions: ["secretsmanager:GetSecretValue"],
          resources: [await outputOf(pipeline.apiKeysSecret.arn)],
        },
        {
          actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
          resources: [`${await outputOf(pipeline.collector.logGroup.arn)}:*`],
        },
      ]),
    );
    expect(grants).toHaveLength(3);
  });

  it("keeps its log group for the given retention", () => {
    expect(
      one("metrics", "aws:cloudwatch/logGroup:LogGroup", "metrics-collector-logs").inputs.retentionInDays,
    ).toBe(7);
  });
});

describe("IAM across the whole pipeline", () => {
  it("grants no wildcard action, and '*' resources only for actions AWS cannot scope", () => {
    const policies = of("metrics", "aws:iam/rolePolicy:RolePolicy");
    expect(policies.length).toBeGreaterThanOrEqual(6);
    for (const p of policies) {
      const doc = JSON.parse(p.inputs.policy as string) as Doc;
      for (const s of doc.Statement) {
        for (const a of list(s.Action)) expect(a, `${p.name}: ${a}`).not.toContain("*");
        if (list(s.Resource).includes("*")) {
          for (const a of list(s.Action))
            expect(a, `${p.name}: ${a} on *`).toMatch(
              /^(xray|logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups))/,
            );
        }
      }
    }
  });
});

describe("HTTP API", () => {
  it("routes POST /v1/batch and GET /v1/health to the collector (payload 2.0)", async () => {
    const routes = of("metrics", "aws:apigatewayv2/route:Route")
      .map((r) => r.inputs.routeKey)
      .sort();
    expect(routes).toEqual(["GET /v1/health", "POST /v1/batch"]);
    const integration = one(
      "metrics",
      "aws:apigatewayv2/integration:Integration",
      "metrics-collector-integration",
    );
    expect(integration.inputs).toMatchObject({ integrationType: "AWS_PROXY", payloadFormatVersion: "2.0" });
    expect(integration.inputs.integrationUri).toBe(await outputOf(pipeline.collector.invokeArn));
    const permission = one("metrics", "aws:lambda/permission:Permission", "metrics-api-invoke");
    expect(permission.inputs).toMatchObject({
      action: "lambda:InvokeFunction",
      principal: "apigateway.amazonaws.com",
    });
    expect(permission.inputs.sourceArn).toBe(`${await outputOf(pipeline.api.executionArn)}/*/*/v1/*`);
  });

  it("throttles the stage and writes JSON access logs to a retained log group", async () => {
    const stage = one("metrics", "aws:apigatewayv2/stage:Stage", "metrics-stage");
    expect(stage.inputs).toMatchObject({
      name: "$default",
      autoDeploy: true,
      defaultRouteSettings: { throttlingRateLimit: 50, throttlingBurstLimit: 100 },
    });
    const logs = stage.inputs.accessLogSettings as { destinationArn: string; format: string };
    expect(logs.destinationArn).toBe(await outputOf(pipeline.apiLogGroup.arn));
    expect(JSON.parse(logs.format)).toMatchObject({
      status: "$context.status",
      requestId: "$context.requestId",
    });
    expect(
      one("metrics", "aws:cloudwatch/logGroup:LogGroup", "metrics-api-logs").inputs.retentionInDays,
    ).toBe(7);
  });
});

describe("API keys", () => {
  it("are secret in the output and in the Secrets Manager value, and never in the function's environment", async () => {
    expect(await pulumi.isSecret(pipeline.apiKeys)).toBe(true);
    expect(await pulumi.isSecret(pipeline.apiKeysSecretVersion.secretString)).toBe(true);
    expect(
      JSON.parse(await outputOf(pipeline.apiKeysSecretVersion.secretString as pulumi.Output<string>)),
    ).toEqual(["key-one", "key-two"]);
    const env = JSON.stringify(
      one("metrics", "aws:lambda/function:Function", "metrics-collector-function").inputs.environment,
    );
    expect(env).not.toContain("key-one");
  });
});

describe("alarms and dashboard", () => {
  it("alarms on API 5xx, collector errors and the rejected ratio, all to the alarm topic", async () => {
    const topic = await outputOf(pipeline.alarmTopicArn);
    const alarms = Object.fromEntries(
      of("metrics", "aws:cloudwatch/metricAlarm:MetricAlarm").map((a) => [a.name, a.inputs]),
    );
    expect(alarms["metrics-api-5xx"]).toMatchObject({
      namespace: "AWS/ApiGateway",
      metricName: "5xx",
      threshold: 1,
      alarmActions: [topic],
    });
    expect(alarms["metrics-collector-errors"]).toMatchObject({
      namespace: "AWS/Lambda",
      metricName: "Errors",
      alarmActions: [topic],
    });
    const ratio = alarms["metrics-rejected-ratio"] as {
      metricQueries: { id: string; expression?: string; metric?: { metricName: string } }[];
      threshold: number;
      alarmActions: string[];
    };
    expect(ratio.alarmActions).toEqual([topic]);
    expect(ratio.threshold).toBe(0.05);
    expect(ratio.metricQueries.map((q) => q.metric?.metricName ?? q.expression)).toEqual([
      "AcceptedEvents",
      "RejectedEvents",
      "IF((accepted + rejected) > 0, rejected / (accepted + rejected), 0)",
    ]);
    // Compaction that stops starting (a broken schedule) pages too: missing data is breaching.
    expect(alarms["metrics-compaction-stale"]).toMatchObject({
      namespace: "AWS/States",
      metricName: "ExecutionsStarted",
      dimensions: {
        StateMachineArn: await outputOf(pipeline.compaction?.stateMachineArn as pulumi.Output<string>),
      },
      period: 3600,
      evaluationPeriods: 3,
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      treatMissingData: "breaching",
      alarmActions: [topic],
    });
    // The compaction fleet's failure alarms go to the same topic.
    expect(alarms["metrics-compaction-failed-alarm"]).toMatchObject({ alarmActions: [topic] });
  });

  it("counts accepted and rejected events from the collector's per-request log line", async () => {
    const filters = of("metrics", "aws:cloudwatch/logMetricFilter:LogMetricFilter");
    const logGroup = await outputOf(pipeline.collector.logGroup.name);
    const byName = Object.fromEntries(filters.map((f) => [f.name, f.inputs]));
    expect(byName["metrics-accepted-events"]).toMatchObject({
      logGroupName: logGroup,
      pattern: "{ $.accepted >= 0 }",
      metricTransformation: { value: "$.accepted", name: "AcceptedEvents" },
    });
    expect(byName["metrics-rejected-events"]).toMatchObject({
      logGroupName: logGroup,
      pattern: "{ $.rejected >= 0 }",
      metricTransformation: { value: "$.rejected", name: "RejectedEvents" },
    });
    expect(byName["metrics-refused-batches"]).toMatchObject({ pattern: '{ $.message = "batch refused" }' });
  });

  it("has a dashboard over the API, the events, the collector, compaction and Athena", async () => {
    const stateMachineArn = await outputOf(pipeline.compaction?.stateMachineArn as pulumi.Output<string>);
    const workgroupName = await outputOf(pipeline.workgroupName);
    const body = JSON.parse(
      one("metrics", "aws:cloudwatch/dashboard:Dashboard", "metrics-dashboard").inputs
        .dashboardBody as string,
    ) as {
      widgets: { properties: { title: string } }[];
    };
    expect(body.widgets.map((w) => w.properties.title)).toEqual(
      expect.arrayContaining([
        "Collector requests and errors",
        "Events accepted / rejected",
        "Collector Lambda",
        "Compaction runs",
        "Athena bytes scanned",
      ]),
    );
    const text = JSON.stringify(body);
    expect(text).toContain(stateMachineArn);
    expect(text).toContain(`WorkGroup=\\"${workgroupName}\\"`);
  });
});

describe("Athena", () => {
  const table = (name: string) =>
    one("metrics", "aws:glue/catalogTable:CatalogTable", `metrics-table-${name}`).inputs as {
      name: string;
      parameters: Record<string, string>;
      partitionKeys: { name: string; type: string }[];
      storageDescriptor: {
        columns: { name: string; type: string }[];
        location: string;
        serDeInfo: { serializationLibrary: string };
        inputFormat: string;
      };
    };

  it("declares events, quarantine and one table per event schema, with the contract's columns", () => {
    const names = of("metrics", "aws:glue/catalogTable:CatalogTable")
      .map((t) => t.inputs.name)
      .sort();
    expect(names).toEqual(["downloaded_img", "events", "quarantine", "search_made", "uploaded_img"]);
    const cols = (n: string) => table(n).storageDescriptor.columns.map((c) => [c.name, c.type]);
    expect(cols("events")).toEqual(EVENTS_COLUMNS.map((c) => [c.name, c.glueType]));
    expect(cols("quarantine")).toEqual(QUARANTINE_COLUMNS.map((c) => [c.name, c.glueType]));
    const search = DEMO_EVENT_SCHEMAS.find((s) => s.event === "search_made");
    expect(cols("search_made")).toEqual(
      eventSchemaColumns(search as (typeof DEMO_EVENT_SCHEMAS)[number]).map((c) => [c.name, c.glueType]),
    );
    expect(cols("search_made")).toEqual(
      expect.arrayContaining([
        ["query", "string"],
        ["n_results", "bigint"],
      ]),
    );
  });

  it("projects dt and hour partitions over tables/<table>/dt=/hour=/ as Parquet", async () => {
    const bucket = await outputOf(pipeline.bucketName);
    for (const name of ["events", "quarantine", "downloaded_img"]) {
      const t = table(name);
      expect(t.partitionKeys.map((k) => [k.name, k.type])).toEqual([
        ["dt", "string"],
        ["hour", "string"],
      ]);
      expect(t.parameters).toMatchObject({
        EXTERNAL: "TRUE",
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": "NOW-1YEARS,NOW+1DAYS",
        "projection.hour.type": "integer",
        "projection.hour.range": "0,23",
        "projection.hour.digits": "2",
        "storage.location.template": `s3://${bucket}/tables/${name}/dt=\${dt}/hour=\${hour}/`,
      });
      expect(t.storageDescriptor.location).toBe(`s3://${bucket}/tables/${name}/`);
      expect(t.storageDescriptor.serDeInfo.serializationLibrary).toBe(
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
      );
      expect(t.storageDescriptor.inputFormat).toBe(
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
      );
    }
  });

  it("has an enforced, encrypted workgroup with CloudWatch metrics and the configured cutoff", async () => {
    const wg = one("metrics", "aws:athena/workgroup:Workgroup", "metrics-workgroup").inputs
      .configuration as Record<string, unknown>;
    expect(wg).toMatchObject({
      enforceWorkgroupConfiguration: true,
      publishCloudwatchMetricsEnabled: true,
      bytesScannedCutoffPerQuery: 1024 ** 3,
      resultConfiguration: {
        outputLocation: `s3://${await outputOf(pipeline.bucketName)}/athena-results/`,
        encryptionConfiguration: { encryptionOption: "SSE_S3" },
      },
    });
  });

  it("creates every named query in the database and workgroup", async () => {
    const queries = of("metrics", "aws:athena/namedQuery:NamedQuery");
    expect(queries.map((q) => q.inputs.name).sort()).toEqual(NAMED_QUERIES.map((q) => q.name).sort());
    for (const q of queries) {
      expect(q.inputs.database).toBe("observatory_dev");
      expect(q.inputs.workgroup).toBe(await outputOf(pipeline.workgroupName));
      expect(q.inputs.query).toBe(NAMED_QUERIES.find((n) => n.name === q.inputs.name)?.sql);
    }
  });
});

describe("compaction", () => {
  it("is an hourly EtlFleet on the pipeline's bucket, its functions on the DuckDB layer's architecture", async () => {
    const schedule = one("metrics", "aws:scheduler/schedule:Schedule", "metrics-compaction-schedule");
    expect(schedule.inputs.scheduleExpression).toBe("rate(1 hour)");
    const layer = one("metrics", "aws:lambda/layerVersion:LayerVersion", "metrics-duckdb-layer");
    expect(layer.inputs).toMatchObject({
      compatibleArchitectures: ["x86_64"],
      compatibleRuntimes: ["nodejs22.x"],
    });
    const layerArn = await outputOf(pipeline.duckdbLayer?.arn as pulumi.Output<string>);
    for (const role of ["planner", "worker", "finalizer"]) {
      const fn = one("metrics", "aws:lambda/function:Function", `metrics-compaction-${role}-function`);
      expect(fn.inputs, role).toMatchObject({
        runtime: "nodejs22.x",
        architectures: ["x86_64"],
        layers: [layerArn],
      });
      const env = (fn.inputs.environment as { variables: Record<string, string> }).variables;
      expect(env.OBSERVATORY_BUCKET).toBe(await outputOf(pipeline.bucketName));
      expect(JSON.parse(env.OBSERVATORY_EVENT_SCHEMAS as string)).toEqual(DEMO_EVENT_SCHEMAS);
      expect(env.OBSERVATORY_ETL_JOB).toBe("compaction");
    }
  });

  it("lets the worker read raw and write tables, but not touch what the collector owns beyond reading", async () => {
    const bucketArn = await outputOf(pipeline.bucket.arn);
    const doc = policyOf("metrics", "metrics-compaction-worker-policy");
    const resourcesOf = (action: string) =>
      doc.Statement.filter((s) => list(s.Action).includes(action))
        .flatMap((s) => list(s.Resource))
        .sort();
    expect(resourcesOf("s3:GetObject")).toEqual(
      expect.arrayContaining([`${bucketArn}/raw/*`, `${bucketArn}/quarantine/*`, `${bucketArn}/tables/*`]),
    );
    const writes = resourcesOf("s3:PutObject");
    expect(writes).toEqual(
      expect.arrayContaining([`${bucketArn}/tables/*`, `${bucketArn}/etl/compaction/*`]),
    );
    for (const w of [...writes, ...resourcesOf("s3:DeleteObject")]) {
      expect(w.startsWith(`${bucketArn}/raw/`) || w.startsWith(`${bucketArn}/quarantine/`)).toBe(false);
    }
  });
});

describe("compaction definition", () => {
  it("deploys the compaction job's own spec as a valid ASL over the pipeline's bucket and functions", async () => {
    const { createRequire } = await import("node:module");
    const aslValidator = createRequire(import.meta.url)("asl-validator") as (d: unknown) => {
      isValid: boolean;
      errors: unknown[];
    };
    const { compaction } = await import("../etl/jobs/compaction.js");
    const { resolveSpec } = await import("../etl/job-spec.js");
    const fleet = pipeline.compaction as NonNullable<typeof pipeline.compaction>;
    expect(fleet.spec).toEqual(resolveSpec(compaction.spec));
    const asl = JSON.parse(await outputOf(fleet.definition)) as Record<string, unknown>;
    const result = aslValidator(structuredClone(asl));
    expect(result.errors).toEqual([]);
    const text = JSON.stringify(asl);
    expect(text).toContain(await outputOf(pipeline.bucketName));
    for (const role of ["planner", "worker", "finalizer"] as const) {
      expect(text).toContain(await outputOf(fleet[role].arn));
    }
  });
});

describe("argument checks", () => {
  it("refuses a bytes-scanned cutoff below Athena's minimum", () => {
    expect(
      () =>
        new MetricPipeline("bad-cutoff", { compaction: false, athena: { bytesScannedCutoffPerQuery: 1000 } }),
    ).toThrow(/10 MB/);
  });
  it("refuses an event schema that clashes with a built-in table", () => {
    const clash = { ...DEMO_EVENT_SCHEMAS[0], event: "events" } as (typeof DEMO_EVENT_SCHEMAS)[number];
    expect(() => new MetricPipeline("bad-schema", { compaction: false, eventSchemas: [clash] })).toThrow(
      /built-in table/,
    );
  });
  it("refuses schemas that would overflow Lambda's 4 KB environment", () => {
    const big = Array.from({ length: 40 }, (_, i) => ({
      ...DEMO_EVENT_SCHEMAS[0],
      event: `event_number_${i}`,
    })) as typeof DEMO_EVENT_SCHEMAS;
    expect(() => new MetricPipeline("bad-env", { compaction: false, eventSchemas: big })).toThrow(/4096/);
  });
  it("refuses a named query over a table the pipeline does not have", () => {
    expect(
      () =>
        new MetricPipeline("bad-query", {
          compaction: false,
          namedQueries: [{ name: "x", description: "x", sql: "SELECT * FROM search_made" }],
        }),
    ).toThrow(/search_made/);
  });
});
