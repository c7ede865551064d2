import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { EventSchema } from "../contracts/event-schema.js";
import { EVENTS_COLUMNS, eventSchemaColumns, QUARANTINE_COLUMNS } from "../contracts/events-table.js";
import { ETL_PREFIX, QUARANTINE_PREFIX, RAW_PREFIX, TABLES_PREFIX } from "../contracts/storage-layout.js";
import { DEFAULT_SPEC } from "../etl/job-spec.js";
import { compaction as compactionJob } from "../etl/jobs/compaction.js";
import { NAMED_QUERIES, type NamedQuery } from "../query/named-queries.js";
import { functionEntry } from "./bundle.js";
import { DuckdbLayer, type DuckdbLayerArgs } from "./duckdb-layer.js";
import { EtlFleet, type EtlFleetArgs } from "./etl-fleet.js";
import { type PolicyStatement, statement } from "./iam.js";
import { DEFAULT_LOG_RETENTION_DAYS, LambdaFunction, type LambdaFunctionArgs } from "./lambda-function.js";
import {
  DEFAULT_DT_PROJECTION_RANGE,
  type ProjectedTableSpec,
  projectedTableArgs,
} from "./metric-pipeline/glue-table.js";
import { createMonitoring, type Monitoring } from "./metric-pipeline/monitoring.js";
import { tablesReadBy } from "./metric-pipeline/named-query-tables.js";
import { createPrivateBucket, expirationRule } from "./private-bucket.js";
import { type Transform, transform } from "./transform.js";

/** Raw NDJSON is the replay source until compaction has run many times over: a month is ample. */
export const DEFAULT_RAW_RETENTION_DAYS = 30;
/** Rejected events stay longer: someone has to look at why a client sends bad data. */
export const DEFAULT_QUARANTINE_RETENTION_DAYS = 90;
/** Athena result files are re-downloadable query outputs, not data. */
export const DEFAULT_ATHENA_RESULTS_RETENTION_DAYS = 7;
/** Stage throttling: a steady rate for a busy fleet of trackers, with room for bursts of flushes. */
export const DEFAULT_THROTTLE_RATE = 500;
export const DEFAULT_THROTTLE_BURST = 1000;
/** 10 GB: stops a runaway query at about $0.05 (Athena bills $5 per TB scanned). */
export const DEFAULT_BYTES_SCANNED_CUTOFF = 10 * 1024 ** 3;
/** Athena's floor for a per-query cutoff. */
export const MIN_BYTES_SCANNED_CUTOFF = 10 * 1024 ** 2;
/** Compaction every hour, like the raw zone's hour partitions. */
export const DEFAULT_COMPACTION_SCHEDULE = "rate(1 hour)";
/** Lambda refuses a function whose environment variables exceed 4 KB in total. */
export const LAMBDA_ENVIRONMENT_MAX_BYTES = 4 * 1024;
/** Collector timeout: API Gateway HTTP APIs wait at most 30 s; one S3 write takes well under 10. */
export const COLLECTOR_TIMEOUT_SECONDS = 10;
/** Browsers cache a preflight answer this long: one preflight an hour per page, not per batch. */
export const CORS_MAX_AGE_SECONDS = 3600;
/** Generated API key length: 40 alphanumerics, about 238 bits. */
const GENERATED_KEY_LENGTH = 40;
/** Prefix of Athena query results in the pipeline's bucket. */
export const ATHENA_RESULTS_PREFIX = "athena-results/";

export interface CompactionArgs {
  /** EventBridge Scheduler expression; default hourly. */
  schedule?: string;
  /** Workers running at once (Map MaxConcurrency). */
  concurrency?: number;
  workerMemorySize?: number;
  /** The DuckDB layer (an ARN of an existing layer, or args of the one to build). */
  duckdbLayer?: { arn: pulumi.Input<string>; architecture?: "arm64" | "x86_64" } | DuckdbLayerArgs;
  /** Anything else of the fleet (retry policy, timeouts, tolerated failures...). */
  fleet?: Partial<Omit<EtlFleetArgs, "planner" | "worker" | "finalizer" | "bucket" | "alarmTopicArn">>;
}

export interface MetricPipelineArgs {
  /** Stage name (dev, prod): the collector stamps it on events. */
  stage?: string;
  /** Service name the collector stamps on events. Default "observatory". */
  service?: string;
  /**
   * API keys the collector accepts (a secret Output from config, say). When absent one key is
   * generated; read it from the `apiKeys` output (a secret).
   */
  apiKeys?: pulumi.Input<pulumi.Input<string>[]>;
  /** Declared event schemas: enforced by the collector, one typed table each. Plain: they decide tables. */
  eventSchemas?: EventSchema[];
  /** Named queries to create; default the ones of query/named-queries.ts whose tables this pipeline has. */
  namedQueries?: readonly NamedQuery[];
  /** A customer-managed KMS key for the bucket (with an S3 bucket key) and Athena results; default SSE-S3. */
  kmsKeyArn?: pulumi.Input<string>;
  rawRetentionDays?: number;
  quarantineRetentionDays?: number;
  athenaResultsRetentionDays?: number;
  logRetentionDays?: number;
  /** Let browsers on these origins send batches (CORS); default none: server-side trackers need none. */
  cors?: { allowOrigins: string[] };
  /** Stage throttling of the collector API (requests per second, burst). */
  throttling?: { rateLimit?: number; burstLimit?: number };
  /** X-Ray tracing of the collector and the compaction fleet. */
  tracing?: boolean;
  /** SNS topic for every alarm; default one created here. */
  alarmTopicArn?: pulumi.Input<string>;
  alarms?: {
    periodSeconds?: number;
    rejectedRatioThreshold?: number;
    api5xxThreshold?: number;
    /** Hours without a compaction start before alarming; default 3 (the schedule is hourly). */
    compactionStaleHours?: number;
  };
  athena?: {
    /** Glue database name (lowercase, underscores). Default `observatory_<stage>`. */
    databaseName?: string;
    bytesScannedCutoffPerQuery?: number;
    /** Range of the `dt` partition projection. */
    dtProjectionRange?: string;
  };
  /** The compaction EtlFleet; `false` for an ingest-only pipeline. */
  compaction?: CompactionArgs | false;
  /** Delete the bucket with its objects on `pulumi destroy` (dev stacks). Default false. */
  forceDestroy?: boolean;
  /** Handler entries to deploy instead of ours (a customised collector). */
  handlers?: { collector?: string };
  /**
   * Collector sizing. `reservedConcurrency` caps concurrent collectors (back pressure: beyond it API
   * Gateway answers 429/503 and the Tracker retries with backoff) and protects the account's pool.
   */
  collector?: { memorySize?: number; reservedConcurrency?: number };
  transform?: {
    bucket?: Transform<aws.s3.BucketArgs>;
    bucketPolicy?: Transform<aws.s3.BucketPolicyArgs>;
    lifecycle?: Transform<aws.s3.BucketLifecycleConfigurationArgs>;
    apiKeysSecret?: Transform<aws.secretsmanager.SecretArgs>;
    collector?: LambdaFunctionArgs["transform"];
    api?: Transform<aws.apigatewayv2.ApiArgs>;
    stage?: Transform<aws.apigatewayv2.StageArgs>;
    database?: Transform<aws.glue.CatalogDatabaseArgs>;
    table?: Transform<aws.glue.CatalogTableArgs>;
    workgroup?: Transform<aws.athena.WorkgroupArgs>;
    compaction?: EtlFleetArgs["transform"];
    alarmTopic?: Transform<aws.sns.TopicArgs>;
  };
}

/**
 * Centralized metrics (`observatory:aws:MetricPipeline`): HTTP API -> collector Lambda -> S3 raw zone
 * (quarantine for bad input); an hourly EtlFleet compacting raw NDJSON into Parquet tables; Glue tables
 * with partition projection; an Athena workgroup with named queries; alarms and a dashboard.
 */
export class MetricPipeline extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly bucketPolicy: aws.s3.BucketPolicy;
  readonly apiKeysSecret: aws.secretsmanager.Secret;
  readonly apiKeysSecretVersion: aws.secretsmanager.SecretVersion;
  readonly collector: LambdaFunction;
  readonly api: aws.apigatewayv2.Api;
  readonly stage: aws.apigatewayv2.Stage;
  readonly apiLogGroup: aws.cloudwatch.LogGroup;
  readonly database: aws.glue.CatalogDatabase;
  /** Glue tables by name: `events`, `quarantine`, one per declared event schema. */
  readonly tables: Record<string, aws.glue.CatalogTable>;
  readonly workgroup: aws.athena.Workgroup;
  readonly namedQueries: Record<string, aws.athena.NamedQuery>;
  readonly compaction?: EtlFleet;
  readonly duckdbLayer?: DuckdbLayer;
  readonly monitoring: Monitoring;
  /** The SNS topic of every alarm, unless `alarmTopicArn` was given. */
  readonly alarmTopic?: aws.sns.Topic;

  readonly bucketName: pulumi.Output<string>;
  /** Base URL of the collector: POST `${collectorUrl}/v1/batch`. */
  readonly collectorUrl: pulumi.Output<string>;
  /** The accepted API keys (secret). */
  readonly apiKeys: pulumi.Output<string[]>;
  readonly databaseName: pulumi.Output<string>;
  readonly workgroupName: pulumi.Output<string>;
  readonly alarmTopicArn: pulumi.Output<string>;
  /** The customer-managed key of the bucket and Athena results, when one was given. */
  readonly kmsKeyArn?: pulumi.Input<string>;

  /** Statements letting a role run queries in this pipeline's workgroup (see `queryStatements`). */
  queryStatements(): PolicyStatement[] {
    return queryStatements(this);
  }

  constructor(name: string, args: MetricPipelineArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("observatory:aws:MetricPipeline", name, {}, opts);
    const parent = { parent: this };
    const t = args.transform;
    const stage = args.stage ?? pulumi.getStack();
    const service = args.service ?? "observatory";
    const schemas = args.eventSchemas ?? [];
    checkSchemas(schemas);
    this.kmsKeyArn = args.kmsKeyArn;

    // ---- Storage: one private, encrypted, TLS-only bucket for raw, quarantine, tables, ETL and results.
    const storage = createPrivateBucket(
      `${name}-bucket`,
      {
        forceDestroy: args.forceDestroy,
        encryption: { kmsKeyArn: args.kmsKeyArn },
        transform: { bucket: t?.bucket, bucketPolicy: t?.bucketPolicy },
      },
      this,
    );
    this.bucket = storage.bucket;
    this.bucketPolicy = storage.bucketPolicy;
    this.bucketName = this.bucket.bucket;
    const bucketArn = this.bucket.arn;
    const etlRetentionDays =
      (args.compaction ? args.compaction.fleet?.ledgerTtlDays : undefined) ??
      compactionJob.spec.ledgerTtlDays ??
      DEFAULT_SPEC.ledgerTtlDays;
    new aws.s3.BucketLifecycleConfiguration(
      ...transform(
        t?.lifecycle,
        `${name}-bucket-lifecycle`,
        {
          bucket: this.bucket.id,
          rules: [
            expirationRule(
              "expire-raw",
              RAW_PREFIX,
              positiveDays("rawRetentionDays", args.rawRetentionDays ?? DEFAULT_RAW_RETENTION_DAYS),
            ),
            expirationRule(
              "expire-quarantine",
              QUARANTINE_PREFIX,
              positiveDays(
                "quarantineRetentionDays",
                args.quarantineRetentionDays ?? DEFAULT_QUARANTINE_RETENTION_DAYS,
              ),
            ),
            // Run manifests and Map results are an audit aid kept as long as the ledger rows (the fleet's
            // TTL); etl/compaction/ holds the compaction state and must never expire.
            expirationRule("expire-etl-manifests", `${ETL_PREFIX}manifests/`, etlRetentionDays),
            expirationRule("expire-etl-results", `${ETL_PREFIX}results/`, etlRetentionDays),
            // Per-run plans, staged parts and markers of compaction; its state.json sits outside runs/.
            expirationRule("expire-compaction-runs", `${ETL_PREFIX}compaction/runs/`, etlRetentionDays),
            expirationRule(
              "expire-athena-results",
              ATHENA_RESULTS_PREFIX,
              positiveDays(
                "athenaResultsRetentionDays",
                args.athenaResultsRetentionDays ?? DEFAULT_ATHENA_RESULTS_RETENTION_DAYS,
              ),
            ),
          ],
        },
        parent,
      ),
    );
    const objects = (prefix: string) => pulumi.interpolate`${bucketArn}/${prefix}*`;
    const kmsStatements = (actions: string[]): PolicyStatement[] =>
      args.kmsKeyArn ? [statement({ Action: actions, Resource: [args.kmsKeyArn] })] : [];

    // ---- API keys: a Secrets Manager secret holding a JSON array; the value is a Pulumi secret throughout.
    const keys: pulumi.Output<string[]> = args.apiKeys
      ? pulumi.secret(pulumi.output(args.apiKeys))
      : pulumi.secret(
          new random.RandomPassword(
            `${name}-api-key`,
            { length: GENERATED_KEY_LENGTH, special: false },
            parent,
          ).result.apply((k) => [k]),
        );
    this.apiKeys = keys;
    this.apiKeysSecret = new aws.secretsmanager.Secret(
      ...transform(
        t?.apiKeysSecret,
        `${name}-api-keys`,
        {
          description: `API keys of the ${name} collector (JSON array)`,
          kmsKeyId: args.kmsKeyArn,
          recoveryWindowInDays: 7,
        },
        parent,
      ),
    );
    this.apiKeysSecretVersion = new aws.secretsmanager.SecretVersion(
      `${name}-api-keys-value`,
      { secretId: this.apiKeysSecret.id, secretString: pulumi.secret(pulumi.jsonStringify(keys)) },
      parent,
    );

    // ---- Collector: writes raw/ and quarantine/ objects, reads its keys; nothing else.
    const schemasJson = JSON.stringify(schemas);
    checkEnvironmentSize(`${name}-collector`, {
      OBSERVATORY_EVENT_SCHEMAS: schemasJson,
      OBSERVATORY_SERVICE: service,
      OBSERVATORY_STAGE: stage,
    });
    const logRetentionDays = args.logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS;
    this.collector = new LambdaFunction(
      `${name}-collector`,
      {
        entry: args.handlers?.collector ?? functionEntry("collector"),
        description: `Observatory collector (${name})`,
        timeout: COLLECTOR_TIMEOUT_SECONDS,
        memorySize: args.collector?.memorySize,
        reservedConcurrency: args.collector?.reservedConcurrency,
        tracing: args.tracing,
        logRetentionDays,
        environment: {
          OBSERVATORY_BUCKET: this.bucketName,
          OBSERVATORY_API_KEYS_SECRET_ARN: this.apiKeysSecret.arn,
          OBSERVATORY_EVENT_SCHEMAS: schemasJson,
          OBSERVATORY_SERVICE: service,
          OBSERVATORY_STAGE: stage,
        },
        statements: [
          statement({
            Action: ["s3:PutObject"],
            Resource: [objects(RAW_PREFIX), objects(QUARANTINE_PREFIX)],
          }),
          statement({ Action: ["secretsmanager:GetSecretValue"], Resource: [this.apiKeysSecret.arn] }),
          ...kmsStatements(["kms:GenerateDataKey", "kms:Decrypt"]),
        ],
        transform: t?.collector,
      },
      parent,
    );

    // ---- HTTP API: two routes, a throttled auto-deployed stage with JSON access logs.
    this.api = new aws.apigatewayv2.Api(
      ...transform(
        t?.api,
        `${name}-api`,
        {
          protocolType: "HTTP",
          description: `Observatory collector (${name})`,
          // Browsers send a preflight for JSON with x-api-key; API Gateway answers it, the collector never sees it.
          corsConfiguration: args.cors
            ? {
                allowOrigins: args.cors.allowOrigins,
                allowMethods: ["GET", "POST"],
                allowHeaders: ["content-type", "content-encoding", "x-api-key", "x-correlation-id"],
                exposeHeaders: ["x-correlation-id", "retry-after"],
                maxAge: CORS_MAX_AGE_SECONDS,
              }
            : undefined,
        },
        parent,
      ),
    );
    const integration = new aws.apigatewayv2.Integration(
      `${name}-collector-integration`,
      {
        apiId: this.api.id,
        integrationType: "AWS_PROXY",
        integrationUri: this.collector.function.invokeArn,
        integrationMethod: "POST",
        payloadFormatVersion: "2.0",
      },
      parent,
    );
    const routes = ["POST /v1/batch", "GET /v1/health"].map(
      (routeKey) =>
        new aws.apigatewayv2.Route(
          `${name}-route-${routeKey.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`,
          { apiId: this.api.id, routeKey, target: pulumi.interpolate`integrations/${integration.id}` },
          parent,
        ),
    );
    new aws.lambda.Permission(
      `${name}-api-invoke`,
      {
        action: "lambda:InvokeFunction",
        function: this.collector.function.name,
        principal: "apigateway.amazonaws.com",
        // Only this API's two routes, any stage.
        sourceArn: pulumi.interpolate`${this.api.executionArn}/*/*/v1/*`,
      },
      parent,
    );
    this.apiLogGroup = new aws.cloudwatch.LogGroup(
      `${name}-api-logs`,
      { namePrefix: `/aws/apigateway/${name}-`, retentionInDays: logRetentionDays },
      parent,
    );
    this.stage = new aws.apigatewayv2.Stage(
      ...transform(
        t?.stage,
        `${name}-stage`,
        {
          apiId: this.api.id,
          name: "$default",
          autoDeploy: true,
          defaultRouteSettings: {
            throttlingRateLimit: args.throttling?.rateLimit ?? DEFAULT_THROTTLE_RATE,
            throttlingBurstLimit: args.throttling?.burstLimit ?? DEFAULT_THROTTLE_BURST,
          },
          accessLogSettings: {
            destinationArn: this.apiLogGroup.arn,
            format: JSON.stringify({
              requestId: "$context.requestId",
              ip: "$context.identity.sourceIp",
              requestTime: "$context.requestTimeEpoch",
              routeKey: "$context.routeKey",
              status: "$context.status",
              responseLength: "$context.responseLength",
              latencyMs: "$context.responseLatency",
              integrationError: "$context.integrationErrorMessage",
            }),
          },
        },
        { ...parent, dependsOn: routes },
      ),
    );
    this.collectorUrl = this.api.apiEndpoint;

    // ---- Athena: database, projected tables from the shared column lists, workgroup, named queries.
    const databaseName =
      args.athena?.databaseName ?? `observatory_${stage}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
    if (!/^[a-z][a-z0-9_]{0,254}$/.test(databaseName)) {
      throw new Error(
        `MetricPipeline ${name}: databaseName ${JSON.stringify(databaseName)} must be lowercase letters, digits and underscores`,
      );
    }
    this.database = new aws.glue.CatalogDatabase(
      ...transform(
        t?.database,
        `${name}-database`,
        { name: databaseName, description: `Observatory metrics (${name})` },
        parent,
      ),
    );
    this.databaseName = this.database.name;
    const dtRange = args.athena?.dtProjectionRange ?? DEFAULT_DT_PROJECTION_RANGE;
    const tableSpecs: ProjectedTableSpec[] = [
      {
        name: "events",
        description: "Every accepted event (properties and context as JSON strings).",
        columns: EVENTS_COLUMNS,
        dtRange,
      },
      {
        name: "quarantine",
        description: "Rejected events and unreadable bodies, with the reasons.",
        columns: QUARANTINE_COLUMNS,
        dtRange,
      },
      ...schemas.map((s) => ({
        name: s.event,
        description: `Events ${s.event} (schema version ${s.version}) with typed property columns.`,
        columns: eventSchemaColumns(s),
        dtRange,
      })),
    ];
    this.tables = Object.fromEntries(
      tableSpecs.map((spec) => [
        spec.name,
        new aws.glue.CatalogTable(
          ...transform(
            t?.table,
            `${name}-table-${spec.name}`,
            projectedTableArgs(this.database.name, this.bucketName, spec),
            parent,
          ),
        ),
      ]),
    );

    const cutoff = args.athena?.bytesScannedCutoffPerQuery ?? DEFAULT_BYTES_SCANNED_CUTOFF;
    if (!Number.isInteger(cutoff) || cutoff < MIN_BYTES_SCANNED_CUTOFF) {
      throw new Error(
        `MetricPipeline ${name}: bytesScannedCutoffPerQuery must be an integer >= ${MIN_BYTES_SCANNED_CUTOFF} (10 MB, Athena's minimum), got ${cutoff}`,
      );
    }
    this.workgroup = new aws.athena.Workgroup(
      ...transform(
        t?.workgroup,
        `${name}-workgroup`,
        {
          description: `Observatory queries (${name})`,
          forceDestroy: true,
          configuration: {
            // Clients cannot override where results go, how they are encrypted, or the cutoff.
            enforceWorkgroupConfiguration: true,
            publishCloudwatchMetricsEnabled: true,
            bytesScannedCutoffPerQuery: cutoff,
            engineVersion: { selectedEngineVersion: "Athena engine version 3" },
            resultConfiguration: {
              outputLocation: pulumi.interpolate`s3://${this.bucketName}/${ATHENA_RESULTS_PREFIX}`,
              encryptionConfiguration: args.kmsKeyArn
                ? { encryptionOption: "SSE_KMS", kmsKeyArn: args.kmsKeyArn }
                : { encryptionOption: "SSE_S3" },
            },
          },
        },
        parent,
      ),
    );
    this.workgroupName = this.workgroup.name;
    const tableNames = new Set(Object.keys(this.tables));
    const queries =
      args.namedQueries ??
      NAMED_QUERIES.filter((q) => tablesReadBy(q.sql).every((tbl) => tableNames.has(tbl)));
    this.namedQueries = Object.fromEntries(
      queries.map((q) => {
        const missing = tablesReadBy(q.sql).filter((tbl) => !tableNames.has(tbl));
        if (missing.length > 0) {
          throw new Error(
            `MetricPipeline ${name}: named query ${q.name} reads ${missing.join(", ")}, not a table of this pipeline (declare its event schema)`,
          );
        }
        return [
          q.name,
          new aws.athena.NamedQuery(
            `${name}-query-${q.name.replace(/_/g, "-")}`,
            {
              name: q.name,
              description: q.description,
              database: this.database.name,
              workgroup: this.workgroup.name,
              query: q.sql,
            },
            parent,
          ),
        ];
      }),
    );

    // ---- Alarm topic first: the fleet's alarms and the pipeline's share it.
    if (args.alarmTopicArn) {
      this.alarmTopicArn = pulumi.output(args.alarmTopicArn);
    } else {
      this.alarmTopic = new aws.sns.Topic(...transform(t?.alarmTopic, `${name}-alarms`, {}, parent));
      this.alarmTopicArn = this.alarmTopic.arn;
    }

    if (args.compaction !== false) {
      const c = args.compaction ?? {};
      // The DuckDB functions run on the layer's architecture (arm64 unless a layer for x86_64 is given).
      let layerArn: pulumi.Input<string>;
      let architecture: "arm64" | "x86_64" = "arm64";
      if (c.duckdbLayer && "arn" in c.duckdbLayer) {
        layerArn = c.duckdbLayer.arn;
        architecture = c.duckdbLayer.architecture ?? "arm64";
      } else {
        this.duckdbLayer = new DuckdbLayer(
          `${name}-duckdb`,
          { architecture: "arm64", ...c.duckdbLayer },
          parent,
        );
        layerArn = this.duckdbLayer.arn;
        architecture = this.duckdbLayer.architecture;
      }
      const compactionPrefix = `${ETL_PREFIX}compaction/`;
      const env = {
        OBSERVATORY_EVENT_SCHEMAS: schemasJson,
        OBSERVATORY_SERVICE: service,
        OBSERVATORY_STAGE: stage,
      };
      // Merging a partition rewrites its file and removes the parts it replaced.
      const deletes = statement({
        Action: ["s3:DeleteObject"],
        Resource: [objects(TABLES_PREFIX), objects(compactionPrefix)],
      });
      const kms = kmsStatements(["kms:GenerateDataKey", "kms:Decrypt"]);
      // The job's own spec (etl/jobs/compaction.ts): the deployed machine is the one `etl start --local` runs.
      const job = EtlFleet.fromJob(compactionJob, {
        // All three handlers import DuckDB at load (one job module), so all three get the layer.
        planner: {
          environment: env,
          layers: [layerArn],
          architecture,
          reads: [RAW_PREFIX, QUARANTINE_PREFIX, compactionPrefix],
          writes: [compactionPrefix],
          statements: kms,
        },
        worker: {
          environment: env,
          memorySize: c.workerMemorySize,
          layers: [layerArn],
          architecture,
          reads: [RAW_PREFIX, QUARANTINE_PREFIX, TABLES_PREFIX, compactionPrefix],
          writes: [TABLES_PREFIX, compactionPrefix],
          statements: [deletes, ...kms],
        },
        finalizer: {
          environment: env,
          layers: [layerArn],
          architecture,
          reads: [RAW_PREFIX, QUARANTINE_PREFIX, TABLES_PREFIX, compactionPrefix],
          writes: [TABLES_PREFIX, compactionPrefix],
          statements: [deletes, ...kms],
        },
      });
      this.compaction = new EtlFleet(
        `${name}-compaction`,
        {
          ...job,
          ...c.fleet,
          concurrency: c.concurrency ?? c.fleet?.concurrency ?? job.concurrency,
          tracing: args.tracing,
          logRetentionDays,
          // The state machine reads manifests and writes Map results itself: it needs the key too.
          bucket: { name: this.bucketName, arn: bucketArn, kmsKeyArn: args.kmsKeyArn },
          alarmTopicArn: this.alarmTopicArn,
          schedule: c.fleet?.schedule ?? { expression: c.schedule ?? DEFAULT_COMPACTION_SCHEDULE },
          transform: t?.compaction,
        },
        parent,
      );
    }

    // ---- Alarms and the dashboard, over everything above.
    this.monitoring = createMonitoring(
      name,
      {
        namespace: `Observatory/${pulumi.getStack()}/${name}`,
        apiId: this.api.id,
        collectorFunctionName: this.collector.function.name,
        collectorLogGroupName: this.collector.logGroup.name,
        alarmTopicArn: this.alarmTopicArn,
        compactionStateMachineArn: this.compaction?.stateMachineArn,
        workgroupName: this.workgroupName,
        ...args.alarms,
      },
      this,
    );

    this.registerOutputs({
      bucketName: this.bucketName,
      collectorUrl: this.collectorUrl,
      databaseName: this.databaseName,
      workgroupName: this.workgroupName,
      alarmTopicArn: this.alarmTopicArn,
      apiKeys: this.apiKeys,
      compactionStateMachineArn: this.compaction?.stateMachineArn,
    });
  }
}

/**
 * What a principal needs to run queries in the pipeline's workgroup (the CLI's `query --athena`,
 * a dashboard role): Athena in this workgroup only, Glue reads of this database and its tables,
 * S3 reads of `tables/` and read/write of `athena-results/` (Athena writes results as the caller).
 */
export function queryStatements(pipeline: {
  bucket: aws.s3.Bucket;
  database: aws.glue.CatalogDatabase;
  workgroup: aws.athena.Workgroup;
  kmsKeyArn?: pulumi.Input<string>;
}): PolicyStatement[] {
  const region = aws.getRegionOutput({}, { parent: pipeline.bucket }).region;
  const account = aws.getCallerIdentityOutput({}, { parent: pipeline.bucket }).accountId;
  const glue = (path: pulumi.Input<string>) => pulumi.interpolate`arn:aws:glue:${region}:${account}:${path}`;
  const bucketArn = pipeline.bucket.arn;
  return [
    statement({
      Action: [
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
        "athena:GetWorkGroup",
        "athena:ListNamedQueries",
        "athena:GetNamedQuery",
      ],
      Resource: [pipeline.workgroup.arn],
    }),
    statement({
      Action: ["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartitions"],
      Resource: [
        glue("catalog"),
        glue(pulumi.interpolate`database/${pipeline.database.name}`),
        glue(pulumi.interpolate`table/${pipeline.database.name}/*`),
      ],
    }),
    statement({
      Action: ["s3:GetObject"],
      Resource: [
        pulumi.interpolate`${bucketArn}/${TABLES_PREFIX}*`,
        pulumi.interpolate`${bucketArn}/${ATHENA_RESULTS_PREFIX}*`,
      ],
    }),
    statement({
      Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
      Resource: [pulumi.interpolate`${bucketArn}/${ATHENA_RESULTS_PREFIX}*`],
    }),
    statement({ Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: [bucketArn] }),
    ...(pipeline.kmsKeyArn
      ? [statement({ Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: [pipeline.kmsKeyArn] })]
      : []),
  ];
}

function positiveDays(what: string, days: number): number {
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`MetricPipeline: ${what} must be a whole number of days >= 1, got ${days}`);
  return days;
}

/** Event schemas name tables: they must be unique snake_case names that are not our own tables. */
function checkSchemas(schemas: EventSchema[]): void {
  const seen = new Set<string>(["events", "quarantine", "logs"]);
  for (const s of schemas) {
    if (!/^[a-z][a-z0-9_]*$/.test(s.event))
      throw new Error(
        `event schema name ${JSON.stringify(s.event)} must be lowercase snake_case (it names a table)`,
      );
    if (seen.has(s.event))
      throw new Error(`event schema ${s.event} is declared twice or clashes with a built-in table`);
    seen.add(s.event);
    eventSchemaColumns(s); // throws on a property that cannot be a column
  }
}

/**
 * Room kept for the variables known only at deploy time: a bucket name (at most 63 bytes), a secret
 * ARN (about 100), NODE_OPTIONS and the names themselves.
 */
const ENVIRONMENT_RESERVED_BYTES = 512;

/** Lambda refuses environments over 4 KB; say which variable is large at construction, not at deploy. */
function checkEnvironmentSize(fn: string, env: Record<string, string>): void {
  const bytes = Object.entries(env).reduce(
    (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v),
    ENVIRONMENT_RESERVED_BYTES,
  );
  if (bytes > LAMBDA_ENVIRONMENT_MAX_BYTES) {
    const largest = Object.entries(env).sort((a, b) => b[1].length - a[1].length)[0]?.[0];
    throw new Error(
      `${fn}: environment would be about ${bytes} bytes, over Lambda's ${LAMBDA_ENVIRONMENT_MAX_BYTES}; the largest is ${largest} (declare fewer or smaller event schemas)`,
    );
  }
}
