/**
 * Observatory's own stack (Pulumi.yaml main): the metric pipeline, the log centralizer over its
 * functions, and the wordcount ETL demo fleet, configured by Pulumi.<stack>.yaml (namespace
 * `observatory`). Before `pulumi up`: `npm run build:layer` (the DuckDB layer for arm64).
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DuckdbLayer, type LambdaArchitecture } from "../components/duckdb-layer.js";
import { EtlFleet } from "../components/etl-fleet.js";
import { LogCentralizer } from "../components/log-centralizer.js";
import { MetricPipeline } from "../components/metric-pipeline.js";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { DEFAULT_INPUT_PREFIX, OUTPUT_PREFIX, wordcount } from "../etl/wordcount/job.js";

const config = new pulumi.Config("observatory");
const stage = config.get("stage") ?? pulumi.getStack();
const logRetentionDays = config.getNumber("logRetentionDays");
const architecture = (config.get("duckdbLayerArchitecture") ?? "arm64") as LambdaArchitecture;
if (architecture !== "arm64" && architecture !== "x86_64") {
  throw new Error(
    `observatory:duckdbLayerArchitecture must be arm64 or x86_64, got ${JSON.stringify(architecture)}`,
  );
}
const alarmEmail = config.get("alarmEmail");

// One DuckDB layer for every function that writes Parquet (compaction, log consumer).
const duckdb = new DuckdbLayer("observatory", {
  architecture,
  directory: config.get("duckdbLayerDirectory"),
});

export const pipeline = new MetricPipeline("metrics", {
  stage,
  service: "observatory",
  // `pulumi config set --secret observatory:apiKeys '["..."]'`; without it one key is generated.
  apiKeys: config.getSecretObject<string[]>("apiKeys"),
  eventSchemas: DEMO_EVENT_SCHEMAS,
  logRetentionDays,
  rawRetentionDays: config.getNumber("rawRetentionDays"),
  quarantineRetentionDays: config.getNumber("quarantineRetentionDays"),
  tracing: config.getBoolean("tracing") ?? false,
  throttling: {
    rateLimit: config.getNumber("throttleRateLimit"),
    burstLimit: config.getNumber("throttleBurstLimit"),
  },
  athena: { bytesScannedCutoffPerQuery: config.getNumber("bytesScannedCutoffPerQuery") },
  compaction: { schedule: config.get("compactionSchedule"), duckdbLayer: { arn: duckdb.arn, architecture } },
  forceDestroy: config.getBoolean("forceDestroy") ?? stage !== "prod",
});

if (alarmEmail) {
  new aws.sns.TopicSubscription("alarm-email", {
    topic: pipeline.alarmTopicArn,
    protocol: "email",
    endpoint: alarmEmail,
  });
}

// Every function of the pipeline ships its logs to the centralizer (searchable by correlation ID).
export const logs = new LogCentralizer("logs", {
  retentionInDays: logRetentionDays,
  duckdbLayer: { arn: duckdb.arn },
  // The consumer loads DuckDB from the layer: it must run on the layer's architecture.
  transform: { consumer: { function: { architectures: [architecture] } } },
  alarmTopicArn: pipeline.alarmTopicArn,
  forceDestroy: config.getBoolean("forceDestroy") ?? stage !== "prod",
});
const compaction = pipeline.compaction;
logs.addService({
  serviceName: "observatory",
  functionLogGroups: {
    collector: pipeline.collector.logGroup.name,
    ...(compaction
      ? {
          "compaction-planner": compaction.planner.logGroup.name,
          "compaction-worker": compaction.worker.logGroup.name,
          "compaction-finalizer": compaction.finalizer.logGroup.name,
        }
      : {}),
  },
});

// The ETL demo: counts words of the objects under etl/inputs/wordcount/ in its own bucket.
export const wordcountFleet = new EtlFleet("wordcount", {
  ...EtlFleet.fromJob(wordcount, {
    planner: { reads: [DEFAULT_INPUT_PREFIX] },
    worker: { reads: [DEFAULT_INPUT_PREFIX] },
    finalizer: { writes: [OUTPUT_PREFIX] },
  }),
  alarmTopicArn: pipeline.alarmTopicArn,
  logRetentionDays,
});

export const collectorUrl = pipeline.collectorUrl;
export const batchUrl = pulumi.interpolate`${pipeline.collectorUrl}/v1/batch`;
export const apiKeys = pipeline.apiKeys;
export const bucketName = pipeline.bucketName;
export const databaseName = pipeline.databaseName;
export const workgroupName = pipeline.workgroupName;
export const alarmTopicArn = pipeline.alarmTopicArn;
export const dashboardName = pipeline.monitoring.dashboard.dashboardName;
export const duckdbLayerArn = duckdb.arn;
/** For `observatory etl start <job>` on AWS (OBSERVATORY_<JOB>_STATE_MACHINE_ARN). */
export const compactionStateMachineArn = compaction?.stateMachineArn;
export const wordcountStateMachineArn = wordcountFleet.stateMachineArn;
/** For `observatory etl runs <job>` on AWS (OBSERVATORY_<JOB>_LEDGER_TABLE). */
export const compactionLedgerTableName = compaction?.ledgerTableName;
export const wordcountLedgerTableName = wordcountFleet.ledgerTableName;
export const logsBucketName = logs.bucketName;
