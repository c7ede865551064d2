import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  LOGS_COLUMNS,
  LOGS_OPENSEARCH_FAILED_PREFIX,
  LOGS_PARTITION_KEYS,
  LOGS_QUARANTINE_PREFIX,
  LOGS_TABLE,
  partitionValue,
  SUBSCRIPTION_FILTER_PREFIX,
} from "../contracts/logs-table.js";
import { tablePrefix } from "../contracts/storage-layout.js";
import { functionEntry } from "./bundle.js";
import { DuckdbLayer, type DuckdbLayerArgs } from "./duckdb-layer.js";
import { type PolicyStatement, statement } from "./iam.js";
import { LambdaFunction, type LambdaFunctionArgs } from "./lambda-function.js";
import {
  createOpenSearchDomain,
  domainAccessPolicy,
  type OpenSearchDomainOptions,
  type OpenSearchDomainParts,
} from "./log-centralizer/opensearch-domain.js";
import {
  DEFAULT_DT_PROJECTION_RANGE,
  dtProjectionParameters,
  glueColumns,
  PARQUET_TABLE_PARAMETERS,
  parquetStorageDescriptor,
} from "./metric-pipeline/glue-table.js";
import { createPrivateBucket } from "./private-bucket.js";
import { type Transform, transform } from "./transform.js";

/** AWS allows two subscription filters per log group (CloudWatch Logs quota, not adjustable). */
export const MAX_SUBSCRIPTION_FILTERS_PER_LOG_GROUP = 2;
/** A month of logs in CloudWatch is enough to debug; the archive in S3 keeps them longer for less. */
export const DEFAULT_RETENTION_DAYS = 30;
/** DuckDB writes the Parquet in memory; 1 GB also buys the CPU share to parse a 1 MB delivery quickly. */
export const CONSUMER_MEMORY_MB = 1024;
/** A delivery is at most ~1 MB compressed; a minute covers parsing, Parquet and a slow OpenSearch. */
export const CONSUMER_TIMEOUT_SECONDS = 60;
/**
 * CloudWatch Logs invokes the consumer asynchronously: Lambda retries a failed delivery twice, then
 * hands it to the on-failure destination (the dead-letter queue) instead of dropping it. Six hours of
 * retrying is the longest outage of S3 worth waiting out before a delivery goes to the queue.
 */
export const CONSUMER_MAX_RETRIES = 2;
export const CONSUMER_MAX_EVENT_AGE_SECONDS = 6 * 3600;
/** SQS's longest retention: two weeks to notice the alarm and replay. */
export const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;

/** OpenSearch Serverless names (collections, policies) are 3-32 lowercase characters. */
const MAX_OPENSEARCH_NAME = 32;

/** One log group to subscribe, by name (a plain value: it decides how many resources exist). */
export interface LogGroupSubscription {
  name: string;
  /** The `service` partition of its lines; default the Lambda function of `/aws/lambda/<fn>`, else the group name. */
  service?: string;
  /** Create the group with the retention (default true); false when the group exists and is managed elsewhere. */
  manageRetention?: boolean;
}

/** What `addService` needs of a service (ServerlessService provides it). */
export interface ServiceLogSource {
  /** The service's name: the `service` partition of all its functions' lines. */
  readonly serviceName: string;
  /** Log group of each function, keyed by the function's name in the template (plain keys decide the count). */
  readonly functionLogGroups: Readonly<Record<string, pulumi.Input<string>>>;
}

export interface LogCentralizerArgs {
  /** Log groups to subscribe now (more with `addLogGroups` / `addService`). */
  logGroups?: (string | LogGroupSubscription)[];
  /** Retention of the groups this component creates; default 30 days. */
  retentionInDays?: number;
  /** Filter pattern of every subscription; default "" (every line). */
  filterPattern?: string;
  /** Subscription filters that already exist on a group (made elsewhere), counted against AWS's limit of 2. */
  existingSubscriptionFilters?: Record<string, number>;
  /** Glue database for the `logs` table; default a new `observatory_logs_<stack>`. */
  databaseName?: string;
  /** `dt` projection range (Athena syntax); default a year back to a day ahead. */
  dtProjectionRange?: string;
  /**
   * `service` partition projection: "enum" (default) lists every subscribed service, so queries
   * without a service filter (a trace) work; "injected" makes every query name its services.
   */
  serviceProjection?: "enum" | "injected";
  /** DuckDB for the consumer's Parquet: an existing layer's ARN, or args to build one. */
  duckdbLayer?: { arn: pulumi.Input<string> } | DuckdbLayerArgs;
  /**
   * Also index every line into OpenSearch: a Serverless collection (default), or a managed domain in
   * a VPC (`kind: "domain"`, with a new awsx VPC unless one is given).
   */
  opensearch?:
    | {
        kind?: "serverless";
        /** Principals (role ARNs) allowed to read the index (dashboards, the `trace` CLI). */
        readerPrincipalArns?: pulumi.Input<string>[];
      }
    | OpenSearchDomainOptions;
  /** SNS topic for the consumer-errors alarm; default a new topic. */
  alarmTopicArn?: pulumi.Input<string>;
  forceDestroy?: boolean;
  consumer?: Pick<LambdaFunctionArgs, "memorySize" | "timeout" | "reservedConcurrency" | "tracing">;
  transform?: {
    bucket?: Transform<aws.s3.BucketArgs>;
    table?: Transform<aws.glue.CatalogTableArgs>;
    subscriptionFilter?: Transform<aws.cloudwatch.LogSubscriptionFilterArgs>;
    logGroup?: Transform<aws.cloudwatch.LogGroupArgs>;
    queryDefinition?: Transform<aws.cloudwatch.QueryDefinitionArgs>;
    alarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
    collection?: Transform<aws.opensearch.ServerlessCollectionArgs>;
    domain?: Transform<aws.opensearch.DomainArgs>;
    consumer?: LambdaFunctionArgs["transform"];
  };
}

/** Filters per log group across every LogCentralizer of this program (AWS's limit is per group). */
const filtersInProgram = new Map<string, number>();

/** A resource-name-safe key for a log group or function. */
function resourceKey(text: string): string {
  return (
    text
      .replace(/^\/aws\/lambda\//, "")
      .replace(/[^A-Za-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60) || "group"
  );
}

function defaultService(logGroup: string): string {
  return logGroup.startsWith("/aws/lambda/") ? logGroup.slice("/aws/lambda/".length) : logGroup;
}

/**
 * Centralized logs (`observatory:aws:LogCentralizer`): subscription filters on log groups deliver
 * every line to a consumer Lambda that archives it as Parquet in S3 (table `logs`, partitions dt and
 * service, queried by Athena) and optionally indexes it into OpenSearch; Logs Insights queries by
 * correlation ID; an alarm on consumer errors.
 */
export class LogCentralizer extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly bucketName: pulumi.Output<string>;
  readonly bucketPolicy: aws.s3.BucketPolicy;
  readonly database: aws.glue.CatalogDatabase;
  readonly table: aws.glue.CatalogTable;
  readonly consumer: LambdaFunction;
  readonly duckdbLayer?: DuckdbLayer;
  readonly collection?: aws.opensearch.ServerlessCollection;
  /** The domain, its VPC and security groups, when `opensearch.kind` is "domain". */
  readonly opensearchDomain?: OpenSearchDomainParts;
  readonly alarmTopic?: aws.sns.Topic;
  readonly consumerErrorsAlarm: aws.cloudwatch.MetricAlarm;
  /** Deliveries the consumer failed after Lambda's retries (the original event in `requestPayload`). */
  readonly deadLetterQueue: aws.sqs.Queue;
  readonly deadLetterAlarm: aws.cloudwatch.MetricAlarm;
  readonly queryDefinition: aws.cloudwatch.QueryDefinition;
  /** Every subscription filter, by the key its resource name was derived from. */
  readonly subscriptionFilters: Record<string, aws.cloudwatch.LogSubscriptionFilter> = {};
  readonly logGroups: Record<string, aws.cloudwatch.LogGroup> = {};

  readonly #name: string;
  readonly #args: LogCentralizerArgs;
  readonly #services = new Set<string>();
  /** Set once the `service` enum has been read: a service added later would be invisible to Athena. */
  #servicesSealed = false;
  readonly #groupNames: pulumi.Input<string>[] = [];
  readonly #plainGroups = new Set<string>();
  readonly #keys = new Set<string>();
  readonly #ownLogGroupPrefix: string;
  readonly #sourceArnPrefix: pulumi.Output<string>;

  constructor(name: string, args: LogCentralizerArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("observatory:aws:LogCentralizer", name, {}, opts);
    this.#name = name;
    this.#args = args;
    const parent = { parent: this };
    const t = args.transform;

    // ---- Archive: private, encrypted, TLS-only.
    const archive = createPrivateBucket(
      `${name}-archive`,
      {
        forceDestroy: args.forceDestroy,
        transform: { bucket: t?.bucket },
      },
      this,
    );
    this.bucket = archive.bucket;
    this.bucketPolicy = archive.bucketPolicy;
    this.bucketName = this.bucket.bucket;
    const bucketArn = this.bucket.arn;

    // ---- Optional OpenSearch Serverless collection. SEARCH, not TIMESERIES: time series collections
    // refuse custom document ids, and the log event id as _id is what makes a retried delivery idempotent.
    let opensearchEnv: Record<string, pulumi.Input<string>> = {};
    const opensearchStatements: PolicyStatement[] = [];
    const collectionName = `${name}-logs`
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, "-")
      .slice(0, MAX_OPENSEARCH_NAME);
    let encryptionPolicy: aws.opensearch.ServerlessSecurityPolicy | undefined;
    const domainOptions = args.opensearch?.kind === "domain" ? args.opensearch : undefined;
    if (domainOptions) {
      this.opensearchDomain = createOpenSearchDomain(name, domainOptions, this, t?.domain);
      const domain = this.opensearchDomain.domain;
      opensearchEnv = {
        OPENSEARCH_ENDPOINT: pulumi.interpolate`https://${domain.endpoint}`,
        OPENSEARCH_SIGV4_SERVICE: "es",
      };
      opensearchStatements.push(
        statement({
          Action: ["es:ESHttpPost", "es:ESHttpPut"],
          Resource: [pulumi.interpolate`${domain.arn}/*`],
        }),
      );
    } else if (args.opensearch) {
      encryptionPolicy = new aws.opensearch.ServerlessSecurityPolicy(
        `${name}-opensearch-encryption`,
        {
          name: `${collectionName.slice(0, 28)}-enc`,
          type: "encryption",
          policy: JSON.stringify({
            Rules: [{ ResourceType: "collection", Resource: [`collection/${collectionName}`] }],
            AWSOwnedKey: true,
          }),
        },
        parent,
      );
      new aws.opensearch.ServerlessSecurityPolicy(
        `${name}-opensearch-network`,
        {
          name: `${collectionName.slice(0, 28)}-net`,
          type: "network",
          // Reachable over the internet but every request is SigV4-signed and checked by the data access policy.
          policy: JSON.stringify([
            {
              Rules: [
                { ResourceType: "collection", Resource: [`collection/${collectionName}`] },
                { ResourceType: "dashboard", Resource: [`collection/${collectionName}`] },
              ],
              AllowFromPublic: true,
            },
          ]),
        },
        parent,
      );
      this.collection = new aws.opensearch.ServerlessCollection(
        ...transform(
          t?.collection,
          `${name}-collection`,
          { name: collectionName, type: "SEARCH", description: `Observatory logs (${name})` },
          { ...parent, dependsOn: [encryptionPolicy] },
        ),
      );
      opensearchEnv = {
        OPENSEARCH_ENDPOINT: this.collection.collectionEndpoint,
        OPENSEARCH_SIGV4_SERVICE: "aoss",
      };
      opensearchStatements.push(
        statement({ Action: ["aoss:APIAccessAll"], Resource: [this.collection.arn] }),
      );
    }

    // ---- The consumer, and where its failed deliveries go instead of being dropped.
    this.deadLetterQueue = new aws.sqs.Queue(
      `${name}-consumer-dlq`,
      { messageRetentionSeconds: DLQ_RETENTION_SECONDS, sqsManagedSseEnabled: true },
      parent,
    );
    const layerArn = (() => {
      const d = args.duckdbLayer;
      if (d && "arn" in d) return d.arn;
      this.duckdbLayer = new DuckdbLayer(`${name}-duckdb`, { architecture: "arm64", ...d }, parent);
      return this.duckdbLayer.arn;
    })();
    const objects = (prefix: string) => pulumi.interpolate`${bucketArn}/${prefix}*`;
    this.consumer = new LambdaFunction(
      `${name}-consumer`,
      {
        entry: functionEntry("log-consumer"),
        description: "CloudWatch Logs subscription -> logs archive (Parquet) and OpenSearch",
        memorySize: args.consumer?.memorySize ?? CONSUMER_MEMORY_MB,
        timeout: args.consumer?.timeout ?? CONSUMER_TIMEOUT_SECONDS,
        reservedConcurrency: args.consumer?.reservedConcurrency,
        tracing: args.consumer?.tracing,
        layers: [layerArn],
        environment: {
          ARCHIVE_BUCKET: this.bucketName,
          OBSERVATORY_SERVICE: "observatory-log-consumer",
          ...opensearchEnv,
        },
        statements: [
          statement({
            Action: ["s3:PutObject"],
            Resource: [
              objects(tablePrefix(LOGS_TABLE)),
              objects(LOGS_QUARANTINE_PREFIX),
              objects(LOGS_OPENSEARCH_FAILED_PREFIX),
            ],
          }),
          statement({ Action: ["sqs:SendMessage"], Resource: [this.deadLetterQueue.arn] }),
          ...opensearchStatements,
        ],
        transform: this.opensearchDomain ? inVpc(this.opensearchDomain, t?.consumer) : t?.consumer,
      },
      parent,
    );
    new aws.lambda.FunctionEventInvokeConfig(
      `${name}-consumer-async`,
      {
        functionName: this.consumer.name,
        maximumRetryAttempts: CONSUMER_MAX_RETRIES,
        maximumEventAgeInSeconds: CONSUMER_MAX_EVENT_AGE_SECONDS,
        destinationConfig: { onFailure: { destination: this.deadLetterQueue.arn } },
      },
      parent,
    );
    if (this.opensearchDomain) {
      new aws.opensearch.DomainPolicy(
        `${name}-opensearch-policy`,
        {
          domainName: this.opensearchDomain.domain.domainName,
          accessPolicies: domainAccessPolicy(
            this.opensearchDomain.domain.arn,
            this.consumer.role.arn,
            domainOptions?.readerPrincipalArns,
          ),
        },
        parent,
      );
    }
    // The consumer's own group is `/aws/lambda/<name>-consumer-<suffix>`: subscribing it would feed the
    // consumer its own lines forever.
    this.#ownLogGroupPrefix = `/aws/lambda/${name}-consumer`;

    if (this.collection) {
      new aws.opensearch.ServerlessAccessPolicy(
        `${name}-opensearch-access`,
        {
          name: `${collectionName.slice(0, 27)}-data`,
          type: "data",
          policy: pulumi.jsonStringify([
            {
              Rules: [
                {
                  ResourceType: "index",
                  Resource: [`index/${collectionName}/*`],
                  Permission: [
                    "aoss:CreateIndex",
                    "aoss:UpdateIndex",
                    "aoss:DescribeIndex",
                    "aoss:WriteDocument",
                  ],
                },
              ],
              Principal: [this.consumer.role.arn],
            },
            ...(args.opensearch?.readerPrincipalArns?.length
              ? [
                  {
                    Rules: [
                      {
                        ResourceType: "index",
                        Resource: [`index/${collectionName}/*`],
                        Permission: ["aoss:DescribeIndex", "aoss:ReadDocument"],
                      },
                    ],
                    Principal: args.opensearch.readerPrincipalArns,
                  },
                ]
              : []),
          ]),
        },
        parent,
      );
    }

    const partition = aws.getPartitionOutput({}, parent).partition;
    const region = aws.getRegionOutput({}, parent).region;
    const account = aws.getCallerIdentityOutput({}, parent).accountId;
    this.#sourceArnPrefix = pulumi.interpolate`arn:${partition}:logs:${region}:${account}:log-group:`;

    // ---- Athena: the `logs` table with partition projection.
    const databaseName =
      args.databaseName ?? `observatory_logs_${pulumi.getStack()}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
    this.database = new aws.glue.CatalogDatabase(
      `${name}-database`,
      { name: databaseName, description: `Observatory logs (${name})` },
      parent,
    );
    const dtRange = args.dtProjectionRange ?? DEFAULT_DT_PROJECTION_RANGE;
    // Enum values are read after the program has made its addService/addLogGroups calls (this resolves
    // on a later tick than the constructor), so services added right after construction are included.
    const serviceProjection: Record<string, pulumi.Input<string>> = (args.serviceProjection ?? "enum") ===
    "enum"
      ? {
          "projection.service.type": "enum",
          "projection.service.values": afterProgram().apply(() => {
            this.#servicesSealed = true;
            return [...this.#services].sort().join(",") || "unknown";
          }),
        }
      : { "projection.service.type": "injected" };
    this.table = new aws.glue.CatalogTable(
      ...transform(
        t?.table,
        `${name}-table-logs`,
        {
          name: LOGS_TABLE,
          databaseName: this.database.name,
          description: "Every log line of the subscribed log groups (CloudWatch Logs -> log consumer).",
          tableType: "EXTERNAL_TABLE",
          parameters: pulumi
            .all([this.bucketName, pulumi.output(serviceProjection)])
            .apply(([bucket, service]) => ({
              ...PARQUET_TABLE_PARAMETERS,
              ...dtProjectionParameters(dtRange),
              ...service,
              "storage.location.template": `s3://${bucket}/${tablePrefix(LOGS_TABLE)}dt=\${dt}/service=\${service}/`,
            })),
          partitionKeys: glueColumns(LOGS_PARTITION_KEYS),
          storageDescriptor: parquetStorageDescriptor(this.bucketName, LOGS_TABLE, LOGS_COLUMNS),
        },
        parent,
      ),
    );

    // ---- Logs Insights: everything of one correlation ID, across every subscribed group.
    this.queryDefinition = new aws.cloudwatch.QueryDefinition(
      ...transform(
        t?.queryDefinition,
        `${name}-query-correlation-id`,
        {
          name: `observatory/${name}/everything-of-correlation-id`,
          logGroupNames: afterProgram().apply(() => pulumi.all(this.#groupNames)),
          queryString: correlationQuery(),
        },
        parent,
      ),
    );

    // ---- Alarm: a failing consumer means lines wait in CloudWatch and the archive falls behind.
    if (!args.alarmTopicArn) this.alarmTopic = new aws.sns.Topic(`${name}-alarms`, {}, parent);
    const topicArn = args.alarmTopicArn ?? (this.alarmTopic as aws.sns.Topic).arn;
    this.consumerErrorsAlarm = new aws.cloudwatch.MetricAlarm(
      ...transform(
        t?.alarm,
        `${name}-consumer-errors`,
        {
          alarmDescription: `Log consumer of ${name} is failing: deliveries are retried, the archive falls behind`,
          namespace: "AWS/Lambda",
          metricName: "Errors",
          dimensions: { FunctionName: this.consumer.name },
          statistic: "Sum",
          period: 300,
          evaluationPeriods: 1,
          threshold: 0,
          comparisonOperator: "GreaterThanThreshold",
          treatMissingData: "notBreaching",
          alarmActions: [topicArn],
          okActions: [topicArn],
        },
        parent,
      ),
    );

    this.deadLetterAlarm = new aws.cloudwatch.MetricAlarm(
      ...transform(
        t?.alarm,
        `${name}-consumer-dlq-depth`,
        {
          alarmDescription: `Log deliveries of ${name} failed after retries and wait in the dead-letter queue: fix the cause, then replay them`,
          namespace: "AWS/SQS",
          metricName: "ApproximateNumberOfMessagesVisible",
          dimensions: { QueueName: this.deadLetterQueue.name },
          statistic: "Maximum",
          period: 300,
          evaluationPeriods: 1,
          threshold: 0,
          comparisonOperator: "GreaterThanThreshold",
          treatMissingData: "notBreaching",
          alarmActions: [topicArn],
          okActions: [topicArn],
        },
        parent,
      ),
    );

    if (args.logGroups?.length) this.addLogGroups(...args.logGroups);
    this.registerOutputs({
      bucketName: this.bucketName,
      tableName: this.table.name,
      databaseName: this.database.name,
      consumerArn: this.consumer.arn,
      collectionEndpoint: this.collection?.collectionEndpoint,
    });
  }

  /** Subscribes log groups given by name. Errors when a group is listed twice or would exceed AWS's 2 filters. */
  addLogGroups(...groups: (string | LogGroupSubscription)[]): this {
    for (const group of groups) {
      const g = typeof group === "string" ? { name: group } : group;
      if (!g.name) throw new Error(`LogCentralizer ${this.#name}: a log group name is empty`);
      if (this.#plainGroups.has(g.name))
        throw new Error(`LogCentralizer ${this.#name}: log group ${g.name} is listed twice`);
      if (g.name.startsWith(this.#ownLogGroupPrefix)) {
        throw new Error(
          `LogCentralizer ${this.#name}: ${g.name} is the consumer's own log group; subscribing it would loop the consumer's lines back into itself`,
        );
      }
      const existing =
        (this.#args.existingSubscriptionFilters?.[g.name] ?? 0) + (filtersInProgram.get(g.name) ?? 0);
      if (existing + 1 > MAX_SUBSCRIPTION_FILTERS_PER_LOG_GROUP) {
        throw new Error(
          `LogCentralizer ${this.#name}: log group ${g.name} already has ${existing} subscription filter(s); AWS allows ${MAX_SUBSCRIPTION_FILTERS_PER_LOG_GROUP} per log group`,
        );
      }
      filtersInProgram.set(g.name, (filtersInProgram.get(g.name) ?? 0) + 1);
      this.#plainGroups.add(g.name);
      let dependsOn: pulumi.Resource[] = [];
      const key = this.#uniqueKey(resourceKey(g.name));
      if (g.manageRetention ?? true) {
        this.logGroups[key] = new aws.cloudwatch.LogGroup(
          ...transform(
            this.#args.transform?.logGroup,
            `${this.#name}-group-${key}`,
            { name: g.name, retentionInDays: this.#args.retentionInDays ?? DEFAULT_RETENTION_DAYS },
            { parent: this },
          ),
        );
        dependsOn = [this.logGroups[key]];
      }
      this.#subscribe(key, g.name, g.service ?? defaultService(g.name), dependsOn);
    }
    return this;
  }

  /** Subscribes every function's log group of a service (ServerlessService); its lines go to its service partition. */
  addService(service: ServiceLogSource): this {
    for (const [fn, logGroupName] of Object.entries(service.functionLogGroups)) {
      if (typeof logGroupName === "string") {
        this.addLogGroups({ name: logGroupName, service: service.serviceName, manageRetention: false });
        continue;
      }
      // The name is known at deploy time only: the own-group check runs then.
      const checked = pulumi
        .all([pulumi.output(logGroupName as pulumi.Input<string>), this.consumer.logGroup.name])
        .apply(([groupName, own]) => {
          if (groupName === own)
            throw new Error(`LogCentralizer ${this.#name}: ${groupName} is the consumer's own log group`);
          return groupName;
        });
      this.#subscribe(
        this.#uniqueKey(resourceKey(`${service.serviceName}-${fn}`)),
        checked,
        service.serviceName,
        [],
      );
    }
    return this;
  }

  #uniqueKey(key: string): string {
    let unique = key;
    for (let i = 2; this.#keys.has(unique); i++) unique = `${key}-${i}`;
    this.#keys.add(unique);
    return unique;
  }

  #subscribe(
    key: string,
    logGroupName: pulumi.Input<string>,
    service: string,
    dependsOn: pulumi.Resource[],
  ): void {
    const servicePartition = partitionValue(service);
    if (this.#servicesSealed && !this.#services.has(servicePartition)) {
      throw new Error(
        `LogCentralizer ${this.#name}: service ${servicePartition} was added after the logs table's service list was built; call addService/addLogGroups right after constructing the component, or use serviceProjection: "injected"`,
      );
    }
    this.#services.add(servicePartition);
    this.#groupNames.push(logGroupName);
    const permission = new aws.lambda.Permission(
      `${this.#name}-invoke-${key}`,
      {
        action: "lambda:InvokeFunction",
        function: this.consumer.name,
        principal: "logs.amazonaws.com",
        // Only this log group may invoke the consumer through this statement.
        sourceArn: pulumi.interpolate`${this.#sourceArnPrefix}${logGroupName}:*`,
      },
      { parent: this },
    );
    this.subscriptionFilters[key] = new aws.cloudwatch.LogSubscriptionFilter(
      ...transform(
        this.#args.transform?.subscriptionFilter,
        `${this.#name}-filter-${key}`,
        {
          name: `${SUBSCRIPTION_FILTER_PREFIX}${servicePartition}`,
          logGroup: logGroupName,
          filterPattern: this.#args.filterPattern ?? "",
          destinationArn: this.consumer.arn,
        },
        // CloudWatch Logs tests the destination when the filter is created: the permission must exist.
        { parent: this, dependsOn: [permission, ...dependsOn] },
      ),
    );
  }
}

/** AWS's managed policy for a function in a VPC: it creates and deletes its network interfaces. */
const LAMBDA_VPC_ACCESS_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";

/**
 * The consumer's transforms with the VPC added: its subnets and security group, and the managed
 * policy for network interfaces (on the role itself, so it is attached before the function exists;
 * ec2:Describe* has no resource ARNs, which is why this is AWS's policy and not a statement of ours).
 */
function inVpc(
  parts: OpenSearchDomainParts,
  user: LambdaFunctionArgs["transform"],
): LambdaFunctionArgs["transform"] {
  const then = <A extends object>(
    t: Transform<A> | undefined,
    args: A,
    opts: pulumi.CustomResourceOptions,
    name: string,
  ) => {
    if (typeof t === "function") t(args, opts, name);
    else if (t) Object.assign(args, t);
  };
  return {
    ...user,
    role: (args, opts, name) => {
      args.managedPolicyArns = [LAMBDA_VPC_ACCESS_POLICY];
      then(user?.role, args, opts, name);
    },
    function: (args, opts, name) => {
      args.vpcConfig = { subnetIds: parts.subnetIds, securityGroupIds: [parts.consumerSecurityGroup.id] };
      then(user?.function, args, opts, name);
    },
  };
}

/**
 * Resolves on a later tick than the code that calls it: values derived from it see every
 * addService/addLogGroups call the program made right after constructing the component.
 */
function afterProgram(): pulumi.Output<number> {
  return pulumi.output(Promise.resolve(0));
}

/** Logs Insights query for one correlation ID (Insights has no parameters: replace the placeholder). */
export function correlationQuery(correlationId = "REPLACE-WITH-CORRELATION-ID"): string {
  return [
    "fields @timestamp, service, level, function_name, message, @logStream",
    `| filter correlation_id = "${correlationId.replaceAll('"', '\\"')}"`,
    "| sort @timestamp asc",
    "| limit 10000",
  ].join("\n");
}
