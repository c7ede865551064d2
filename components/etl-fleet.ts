import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ETL_PREFIX } from "../contracts/storage-layout.js";
import { type EtlJobSpec, type ResolvedEtlJobSpec, resolveSpec } from "../etl/job-spec.js";
import type { EtlJob } from "../etl/jobs.js";
import { LEDGER_HASH_KEY, LEDGER_RANGE_KEY, LEDGER_TTL_ATTRIBUTE } from "../etl/ledger.js";
import type { BundleOptions } from "./bundle.js";
import { functionEntry } from "./bundle.js";
import {
  EXECUTION_LOGGING_STATEMENT,
  selfStatements,
  serviceTrustPolicy,
  stateMachineDefinition,
} from "./etl-fleet/state-machine.js";
import { type PolicyStatement, policyDocument, statement } from "./iam.js";
import { LambdaFunction, type LambdaFunctionArgs } from "./lambda-function.js";
import { createPrivateBucket, expirationRule } from "./private-bucket.js";
import { type Transform, transform } from "./transform.js";

/** One of the fleet's three functions: a TypeScript handler file bundled with esbuild, and what it may touch. */
export interface EtlFleetFunction {
  /**
   * A handler entry: a user's TypeScript file (`src/jobs/my-worker.ts`) or one of ours
   * (`functions/compaction-worker/handler.ts`). Use `EtlFleet.fromJob(job)` for a registered job.
   */
  entry: string;
  bundle?: BundleOptions;
  /** MB; default 512 for the planner and finalizer, 1024 for the worker (it does the work). */
  memorySize?: number;
  /** Prefixes of the fleet's bucket this function reads (s3:GetObject, s3:ListBucket on the prefix). */
  reads?: string[];
  /** Prefixes of the fleet's bucket this function writes (s3:PutObject, s3:AbortMultipartUpload). */
  writes?: string[];
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  layers?: pulumi.Input<pulumi.Input<string>[]>;
  /** Anything else the handler calls, least privilege (e.g. GetSecretValue on one secret). */
  statements?: PolicyStatement[];
  architecture?: "arm64" | "x86_64";
}

export interface EtlFleetSchedule {
  /** EventBridge Scheduler expression: `rate(1 hour)`, `cron(5 * * * ? *)`. */
  expression: string;
  /** IANA zone for cron expressions (default UTC). */
  timezone?: string;
  /**
   * Execution input. Default: a `run_id` from the scheduled time, so that Scheduler's own retries of
   * one tick resume the same ledger run instead of starting a second one.
   */
  input?: Record<string, unknown>;
  /** Let Scheduler spread starts over this many minutes (0 = exactly on time). */
  flexibleWindowMinutes?: number;
}

export interface EtlFleetArgs extends Omit<EtlJobSpec, "name"> {
  /** Job name (ledger `job` key, S3 prefixes, env of the handlers). Default: the component's name. */
  job?: string;
  planner: EtlFleetFunction;
  worker: EtlFleetFunction;
  /**
   * Optional: without one, a generic finalizer (functions/etl-finalizer) summarizes the Map's results
   * (item counts, where the failed items are) for the ledger.
   */
  finalizer?: EtlFleetFunction;
  schedule?: EtlFleetSchedule;
  /** An existing bucket (MetricPipeline passes its own); by default the fleet creates one. */
  bucket?: {
    name: pulumi.Input<string>;
    arn: pulumi.Input<string>;
    /**
     * The bucket's KMS key when it encrypts with SSE-KMS: the state machine (ItemReader, ResultWriter)
     * and the functions then get kms:Decrypt and kms:GenerateDataKey on it, and nothing else.
     */
    kmsKeyArn?: pulumi.Input<string>;
  };
  /** SNS topic ARN for the failure alarms; by default the fleet creates one. */
  alarmTopicArn?: pulumi.Input<string>;
  /** X-Ray tracing for the state machine and the functions. */
  tracing?: boolean;
  /** CloudWatch Logs level of the state machine (default ERROR: failures only, cheap). */
  logLevel?: "ALL" | "ERROR" | "FATAL";
  logRetentionDays?: number;
  transform?: {
    bucket?: Transform<aws.s3.BucketArgs>;
    ledger?: Transform<aws.dynamodb.TableArgs>;
    role?: Transform<aws.iam.RoleArgs>;
    policy?: Transform<aws.iam.RolePolicyArgs>;
    selfPolicy?: Transform<aws.iam.RolePolicyArgs>;
    logGroup?: Transform<aws.cloudwatch.LogGroupArgs>;
    stateMachine?: Transform<aws.sfn.StateMachineArgs>;
    alarmTopic?: Transform<aws.sns.TopicArgs>;
    failedAlarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
    timedOutAlarm?: Transform<aws.cloudwatch.MetricAlarmArgs>;
    scheduleRole?: Transform<aws.iam.RoleArgs>;
    schedule?: Transform<aws.scheduler.ScheduleArgs>;
    planner?: LambdaFunctionArgs["transform"];
    worker?: LambdaFunctionArgs["transform"];
    finalizer?: LambdaFunctionArgs["transform"];
  };
}

/** Worker default: most ETL work is CPU or memory bound, and Lambda CPU scales with memory. */
export const DEFAULT_WORKER_MEMORY_MB = 1024;
export const DEFAULT_PLANNER_MEMORY_MB = 512;
/** The finalizer used when a job brings none: it only summarizes the Map's results. */
export const GENERIC_FINALIZER = "etl-finalizer";
/** A month of state machine logs is enough to debug a failed run; the ledger keeps the audit trail longer. */
const FLEET_LOG_RETENTION_DAYS = 30;
/**
 * Alarm period: Step Functions publishes execution metrics per minute; one failed run in five minutes
 * is worth a page, and a shorter period only repeats the same alarm.
 */
export const ALARM_PERIOD_SECONDS = 300;
/** A scheduled tick older than this is dropped rather than overlapping the next hourly run. */
export const SCHEDULE_MAX_EVENT_AGE_SECONDS = 3600;
/** Scheduler retries a failed StartExecution (throttling) this many times before giving up on the tick. */
export const SCHEDULE_MAX_RETRIES = 10;

/** S3 layout of one job's runs under the shared ETL prefix. */
export function fleetPrefixes(job: string) {
  return {
    manifests: `${ETL_PREFIX}manifests/`,
    results: `${ETL_PREFIX}results/`,
    /** What IAM grants: the job's own subtree of each. */
    manifestsOfJob: `${ETL_PREFIX}manifests/${job}/`,
    resultsOfJob: `${ETL_PREFIX}results/${job}/`,
  };
}

/**
 * A transient Lambda fleet under a Step Functions Map: planner -> (Distributed) Map of workers ->
 * finalizer, with a DynamoDB job ledger, an optional schedule and failure alarms. Nothing runs, and
 * nothing is paid for, when there is no work. Type `observatory:aws:EtlFleet`.
 */
export class EtlFleet extends pulumi.ComponentResource {
  readonly spec: ResolvedEtlJobSpec;
  readonly bucket?: aws.s3.Bucket;
  readonly bucketName: pulumi.Output<string>;
  readonly ledger: aws.dynamodb.Table;
  readonly planner: LambdaFunction;
  readonly worker: LambdaFunction;
  readonly finalizer: LambdaFunction;
  readonly role: aws.iam.Role;
  readonly policy: aws.iam.RolePolicy;
  readonly selfPolicy?: aws.iam.RolePolicy;
  readonly logGroup: aws.cloudwatch.LogGroup;
  readonly stateMachine: aws.sfn.StateMachine;
  readonly alarmTopic?: aws.sns.Topic;
  readonly alarmTopicArn: pulumi.Output<string>;
  readonly failedAlarm: aws.cloudwatch.MetricAlarm;
  readonly timedOutAlarm: aws.cloudwatch.MetricAlarm;
  readonly scheduleRole?: aws.iam.Role;
  readonly schedule?: aws.scheduler.Schedule;
  /** The generated ASL, exactly as the state machine gets it (also what `observatory etl definition` prints). */
  readonly definition: pulumi.Output<string>;
  readonly stateMachineArn: pulumi.Output<string>;
  readonly ledgerTableName: pulumi.Output<string>;

  /**
   * Args for a registered job (etl/jobs.ts) whose handlers are ours, functions/<job>-planner|worker|
   * finalizer/handler.ts: its spec (so the deployed machine is the one `etl start --local` runs) and
   * its handlers, with what each may read and write given in `access`. Spread it and add the rest:
   * `new EtlFleet("wordcount", { ...EtlFleet.fromJob(wordcount, access), schedule })`.
   */
  static fromJob(
    job: Pick<EtlJob, "spec">,
    access: Partial<Record<"planner" | "worker" | "finalizer", Partial<EtlFleetFunction>>> = {},
  ): EtlFleetArgs {
    const { name, ...spec } = job.spec;
    const handler = (role: "planner" | "worker" | "finalizer"): EtlFleetFunction => ({
      entry: functionEntry(`${name}-${role}`),
      ...access[role],
    });
    return {
      ...spec,
      job: name,
      planner: handler("planner"),
      worker: handler("worker"),
      finalizer: handler("finalizer"),
    };
  }

  constructor(name: string, args: EtlFleetArgs, opts?: pulumi.ComponentResourceOptions) {
    super("observatory:aws:EtlFleet", name, {}, opts);
    const parent = { parent: this };
    const {
      planner,
      worker,
      finalizer,
      schedule,
      bucket,
      alarmTopicArn,
      transform: t,
      job,
      tracing,
      logLevel,
      logRetentionDays,
      ...specArgs
    } = args;
    this.spec = resolveSpec({ ...specArgs, name: job ?? name });
    const jobName = this.spec.name;
    const prefixes = fleetPrefixes(jobName);

    // Storage: the caller's bucket, or our own (private, manifests and results expire with the ledger rows).
    if (bucket) {
      this.bucketName = pulumi.output(bucket.name);
    } else {
      this.bucket = createPrivateBucket(
        `${name}-bucket`,
        {
          transform: { bucket: t?.bucket },
        },
        this,
      ).bucket;
      new aws.s3.BucketLifecycleConfiguration(
        `${name}-bucket-lifecycle`,
        {
          bucket: this.bucket.id,
          rules: [expirationRule("expire-etl-runs", ETL_PREFIX, this.spec.ledgerTtlDays)],
        },
        parent,
      );
      this.bucketName = this.bucket.bucket;
    }
    const bucketArn = bucket ? pulumi.output(bucket.arn) : (this.bucket as aws.s3.Bucket).arn;
    // Reading and writing SSE-KMS objects needs the key; S3 calls KMS on the caller's behalf.
    const kms: PolicyStatement[] = bucket?.kmsKeyArn
      ? [statement({ Action: ["kms:Decrypt", "kms:GenerateDataKey"], Resource: [bucket.kmsKeyArn] })]
      : [];

    this.ledger = new aws.dynamodb.Table(
      ...transform(
        t?.ledger,
        `${name}-ledger`,
        {
          billingMode: "PAY_PER_REQUEST",
          hashKey: LEDGER_HASH_KEY,
          rangeKey: LEDGER_RANGE_KEY,
          attributes: [
            { name: LEDGER_HASH_KEY, type: "S" },
            { name: LEDGER_RANGE_KEY, type: "S" },
          ],
          ttl: { attributeName: LEDGER_TTL_ATTRIBUTE, enabled: true },
          pointInTimeRecovery: { enabled: true },
          serverSideEncryption: { enabled: true },
        },
        parent,
      ),
    );

    // The functions. Each may touch only its declared prefixes; the planner also writes the manifest
    // and reads earlier results (to skip items a resumed run already finished); the finalizer reads results.
    const objectArns = (p: string[]) => p.map((prefix) => pulumi.interpolate`${bucketArn}/${prefix}*`);
    const s3Statements = (reads: string[], writes: string[]): PolicyStatement[] => [
      ...(reads.length > 0
        ? [
            statement({ Action: ["s3:GetObject"], Resource: objectArns(reads) }),
            statement({
              Action: ["s3:ListBucket"],
              Resource: [bucketArn],
              Condition: { StringLike: { "s3:prefix": reads.map((p) => `${p}*`) } },
            }),
          ]
        : []),
      ...(writes.length > 0
        ? [statement({ Action: ["s3:PutObject", "s3:AbortMultipartUpload"], Resource: objectArns(writes) })]
        : []),
    ];
    const fn = (
      role: "planner" | "worker" | "finalizer",
      f: EtlFleetFunction,
      defaults: { memory: number; timeout: number; reads: string[]; writes: string[] },
      tr: LambdaFunctionArgs["transform"],
    ) =>
      new LambdaFunction(
        `${name}-${role}`,
        {
          entry: f.entry,
          bundle: f.bundle,
          description: `EtlFleet ${jobName} ${role}`,
          memorySize: f.memorySize ?? defaults.memory,
          timeout: defaults.timeout,
          architecture: f.architecture,
          tracing,
          layers: f.layers,
          logRetentionDays,
          // The handlers learn their job and bucket from the environment (the same names the local runner sets).
          environment: pulumi
            .all([pulumi.output(f.environment ?? {}), this.bucketName])
            .apply(([env, bucketName]) => ({
              OBSERVATORY_ETL_JOB: jobName,
              OBSERVATORY_BUCKET: bucketName,
              ...env,
            })),
          statements: [
            ...s3Statements(
              [...defaults.reads, ...(f.reads ?? [])],
              [...defaults.writes, ...(f.writes ?? [])],
            ),
            ...kms,
            ...(f.statements ?? []),
          ],
          transform: tr,
        },
        parent,
      );
    const timeouts = this.spec.timeouts;
    this.planner = fn(
      "planner",
      planner,
      {
        memory: DEFAULT_PLANNER_MEMORY_MB,
        timeout: timeouts.plannerSeconds,
        reads: [prefixes.resultsOfJob],
        writes: [prefixes.manifestsOfJob],
      },
      t?.planner,
    );
    this.worker = fn(
      "worker",
      worker,
      { memory: DEFAULT_WORKER_MEMORY_MB, timeout: timeouts.workerSeconds, reads: [], writes: [] },
      t?.worker,
    );
    this.finalizer = fn(
      "finalizer",
      finalizer ?? { entry: functionEntry(GENERIC_FINALIZER) },
      {
        memory: DEFAULT_PLANNER_MEMORY_MB,
        timeout: timeouts.finalizerSeconds,
        reads: [prefixes.resultsOfJob],
        writes: [],
      },
      t?.finalizer,
    );

    // The state machine's role: what its states need (collected from the definition), plus log delivery.
    const accountId = aws.getCallerIdentityOutput({}, parent).accountId;
    this.role = new aws.iam.Role(
      ...transform(
        t?.role,
        `${name}-role`,
        {
          assumeRolePolicy: serviceTrustPolicy("states.amazonaws.com", accountId),
          description: `EtlFleet ${jobName}`,
        },
        parent,
      ),
    );
    const built = stateMachineDefinition(this.spec, {
      planner: this.planner.arn,
      worker: this.worker.arn,
      finalizer: this.finalizer.arn,
      bucketName: this.bucketName,
      ledgerTableName: this.ledger.name,
      ledgerTableArn: this.ledger.arn,
      manifestPrefix: prefixes.manifests,
      resultsPrefix: prefixes.results,
    });
    this.definition = built.definition;
    this.policy = new aws.iam.RolePolicy(
      ...transform(
        t?.policy,
        `${name}-policy`,
        {
          role: this.role.id,
          policy: built.statements.apply((needs) =>
            policyDocument([
              ...needs,
              ...(this.spec.mode === "distributed" ? kms : []),
              EXECUTION_LOGGING_STATEMENT,
              ...(tracing
                ? [
                    statement({
                      Action: [
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                      ],
                      Resource: ["*"],
                    }),
                  ]
                : []),
            ]),
          ),
        },
        parent,
      ),
    );

    this.logGroup = new aws.cloudwatch.LogGroup(
      ...transform(
        t?.logGroup,
        `${name}-logs`,
        // The vendedlogs path keeps CloudWatch's resource policy for Step Functions small (AWS advice).
        {
          namePrefix: `/aws/vendedlogs/states/${name}-`,
          retentionInDays: logRetentionDays ?? FLEET_LOG_RETENTION_DAYS,
        },
        parent,
      ),
    );

    this.stateMachine = new aws.sfn.StateMachine(
      ...transform(
        t?.stateMachine,
        `${name}-state-machine`,
        {
          // A Distributed Map needs a STANDARD parent; its children are EXPRESS or STANDARD per spec.
          type: "STANDARD",
          roleArn: this.role.arn,
          definition: this.definition,
          loggingConfiguration: {
            logDestination: pulumi.interpolate`${this.logGroup.arn}:*`,
            includeExecutionData: false,
            level: logLevel ?? "ERROR",
          },
          tracingConfiguration: { enabled: tracing ?? false },
        },
        // CreateStateMachine checks that the role may deliver logs: the policy must exist first.
        { ...parent, dependsOn: [this.policy] },
      ),
    );

    // What the machine needs on itself (a Distributed Map starts child executions of its own ARN).
    // A separate policy, created after the machine: its ARN is known only then.
    if (this.spec.mode === "distributed") {
      this.selfPolicy = new aws.iam.RolePolicy(
        ...transform(
          t?.selfPolicy,
          `${name}-self-policy`,
          { role: this.role.id, policy: selfStatements(this.stateMachine.arn).apply(policyDocument) },
          parent,
        ),
      );
    }

    // Alarms: any failed or timed-out run pages the topic.
    if (alarmTopicArn) {
      this.alarmTopicArn = pulumi.output(alarmTopicArn);
    } else {
      this.alarmTopic = new aws.sns.Topic(...transform(t?.alarmTopic, `${name}-alarms`, {}, parent));
      this.alarmTopicArn = this.alarmTopic.arn;
    }
    const alarm = (
      metric: "ExecutionsFailed" | "ExecutionsTimedOut",
      suffix: string,
      tr: Transform<aws.cloudwatch.MetricAlarmArgs> | undefined,
    ) =>
      new aws.cloudwatch.MetricAlarm(
        ...transform(
          tr,
          `${name}-${suffix}`,
          {
            alarmDescription: `EtlFleet ${jobName}: a run ended ${metric === "ExecutionsFailed" ? "FAILED" : "TIMED_OUT"}; see the ledger (observatory etl status) and the state machine's logs`,
            namespace: "AWS/States",
            metricName: metric,
            dimensions: { StateMachineArn: this.stateMachine.arn },
            statistic: "Sum",
            period: ALARM_PERIOD_SECONDS,
            evaluationPeriods: 1,
            threshold: 1,
            comparisonOperator: "GreaterThanOrEqualToThreshold",
            // No runs means no datapoints: that is healthy, not unknown.
            treatMissingData: "notBreaching",
            alarmActions: [this.alarmTopicArn],
            okActions: [this.alarmTopicArn],
          },
          parent,
        ),
      );
    this.failedAlarm = alarm("ExecutionsFailed", "failed-alarm", t?.failedAlarm);
    this.timedOutAlarm = alarm("ExecutionsTimedOut", "timed-out-alarm", t?.timedOutAlarm);

    if (schedule) {
      this.scheduleRole = new aws.iam.Role(
        ...transform(
          t?.scheduleRole,
          `${name}-schedule-role`,
          {
            assumeRolePolicy: serviceTrustPolicy("scheduler.amazonaws.com", accountId),
            description: `Scheduler of EtlFleet ${jobName}`,
          },
          parent,
        ),
      );
      const schedulePolicy = new aws.iam.RolePolicy(
        `${name}-schedule-policy`,
        {
          role: this.scheduleRole.id,
          policy: policyDocument([
            statement({ Action: ["states:StartExecution"], Resource: [this.stateMachine.arn] }),
          ]),
        },
        parent,
      );
      this.schedule = new aws.scheduler.Schedule(
        ...transform(
          t?.schedule,
          `${name}-schedule`,
          {
            description: `Starts EtlFleet ${jobName}`,
            scheduleExpression: schedule.expression,
            scheduleExpressionTimezone: schedule.timezone ?? "UTC",
            flexibleTimeWindow:
              schedule.flexibleWindowMinutes && schedule.flexibleWindowMinutes > 0
                ? { mode: "FLEXIBLE", maximumWindowInMinutes: schedule.flexibleWindowMinutes }
                : { mode: "OFF" },
            target: {
              arn: this.stateMachine.arn,
              roleArn: this.scheduleRole.arn,
              input: JSON.stringify(schedule.input ?? scheduledRunInput()),
              retryPolicy: {
                maximumEventAgeInSeconds: SCHEDULE_MAX_EVENT_AGE_SECONDS,
                maximumRetryAttempts: SCHEDULE_MAX_RETRIES,
              },
            },
          },
          { ...parent, dependsOn: [schedulePolicy] },
        ),
      );
    }

    this.stateMachineArn = this.stateMachine.arn;
    this.ledgerTableName = this.ledger.name;
    this.registerOutputs({
      stateMachineArn: this.stateMachineArn,
      stateMachineName: this.stateMachine.name,
      ledgerTableName: this.ledgerTableName,
      bucketName: this.bucketName,
      alarmTopicArn: this.alarmTopicArn,
      plannerFunctionName: this.planner.name,
      workerFunctionName: this.worker.name,
      finalizerFunctionName: this.finalizer.name,
    });
  }
}

/**
 * Input of a scheduled run: EventBridge Scheduler fills `<aws.scheduler.scheduled-time>` per tick, so
 * the tick's retries carry the same run_id and the ledger resumes that run instead of doubling it.
 */
export function scheduledRunInput(): Record<string, unknown> {
  return { run_id: "scheduled-<aws.scheduler.scheduled-time>", input: {} };
}
