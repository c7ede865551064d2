/**
 * buildEtlDefinition: an EtlJobSpec + plain-string references -> the ASL that Step Functions runs
 * (on AWS through the EtlFleet component, on this machine through local/step-functions), and the IAM
 * permissions its states need, collected from the states themselves.
 *
 *   Defaults -> ApplyDefaults -> StartRun (ledger) -> Plan -> RecordPlan (ledger)
 *     -> ProcessItems (Distributed Map over the JSONL manifest | inline Map) -> Finalize
 *     -> RecordSucceeded (ledger) -> Done
 *   any failure -> RecordFailed (ledger) -> RunFailed (Fail)
 *   run already SUCCEEDED -> AlreadySucceeded (Succeed, nothing redone)
 */
import type { Catcher, MapState, Retrier, StateMachineDefinition, TaskState } from "./asl.js";
import { formatIntrinsic } from "./asl.js";
import { type EtlJobSpec, type ResolvedEtlJobSpec, resolveSpec, TRANSIENT_ERROR_NAME } from "./job-spec.js";
import { DYNAMODB_UPDATE_ITEM, failedState, plannedState, startRunState, succeededState } from "./ledger.js";

/** Everything the definition points at, as plain strings (on AWS the component resolves Outputs first). */
export interface EtlRefs {
  plannerArn: string;
  workerArn: string;
  finalizerArn: string;
  bucket: string;
  /** Where planners write manifests, e.g. "etl/manifests/" (ends in "/"). */
  manifestPrefix: string;
  /** Where the Map's ResultWriter writes, e.g. "etl/results/" (ends in "/"). */
  resultsPrefix: string;
  ledgerTable: string;
  /** For IAM; derived from the name with the placeholder account when absent. */
  ledgerTableArn?: string;
}

/** One IAM statement the state machine's role needs (no `*` action; resources are ARNs). */
export interface IamNeed {
  sid: string;
  actions: string[];
  resources: string[];
}

export interface EtlDefinition {
  spec: ResolvedEtlJobSpec;
  definition: StateMachineDefinition;
  /** Statements for the role, except those on the state machine itself (see selfIamNeeds). */
  iam: IamNeed[];
}

/** State names: the local runner binds Task states by name, tests and docs refer to them. */
export const STATE = {
  defaults: "Defaults",
  applyDefaults: "ApplyDefaults",
  startRun: "StartRun",
  plan: "Plan",
  recordPlan: "RecordPlan",
  process: "ProcessItems",
  work: "Work",
  finalize: "Finalize",
  recordSucceeded: "RecordSucceeded",
  done: "Done",
  alreadySucceeded: "AlreadySucceeded",
  recordFailed: "RecordFailed",
  runFailed: "RunFailed",
} as const;

/** Lambda's own transient failures (the errors AWS recommends retrying on every Lambda Task). */
export const LAMBDA_TRANSIENT_ERRORS = [
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
];
/** Error a Distributed Map raises when more items failed than tolerated. */
export const TOLERANCE_EXCEEDED_ERROR = "States.ExceedToleratedFailureThreshold";
export const S3_GET_OBJECT = "arn:aws:states:::s3:getObject";
export const S3_PUT_OBJECT = "arn:aws:states:::s3:putObject";

const PLACEHOLDER_ACCOUNT = "000000000000";
const PLACEHOLDER_REGION = "us-east-1";

/**
 * References for printing a definition when no stack is deployed (`observatory etl definition`):
 * every ARN says PLACEHOLDER so nobody mistakes it for a deployed resource.
 */
export function placeholderRefs(job: string): EtlRefs {
  const fn = (role: string) =>
    `arn:aws:lambda:${PLACEHOLDER_REGION}:${PLACEHOLDER_ACCOUNT}:function:PLACEHOLDER-${job}-${role}`;
  return {
    plannerArn: fn("planner"),
    workerArn: fn("worker"),
    finalizerArn: fn("finalizer"),
    bucket: "placeholder-bucket",
    manifestPrefix: "etl/manifests/",
    resultsPrefix: "etl/results/",
    ledgerTable: "PLACEHOLDER-etl-ledger",
  };
}

function lambdaRetry(spec: ResolvedEtlJobSpec): Retrier[] {
  const r = spec.retry;
  if (r.maxAttempts === 0) return [];
  return [
    {
      ErrorEquals: [...LAMBDA_TRANSIENT_ERRORS, TRANSIENT_ERROR_NAME],
      IntervalSeconds: r.intervalSeconds,
      MaxAttempts: r.maxAttempts,
      BackoffRate: r.backoffRate,
      MaxDelaySeconds: r.maxDelaySeconds,
      JitterStrategy: r.jitter,
    },
  ];
}

/**
 * Where one run's Map results go. The ResultWriter Prefix has no trailing "/" because Step Functions
 * writes `<Prefix>/<map run id>/manifest.json`; handlers get the same place as a "/"-terminated prefix.
 */
function runResultsPrefixFormat(refs: EtlRefs, job: string, trailingSlash: boolean): string {
  return formatIntrinsic([`${refs.resultsPrefix}${job}/`, trailingSlash ? "/" : ""], ["$.run_id"]);
}

export function buildEtlDefinition(specInput: EtlJobSpec, refs: EtlRefs): EtlDefinition {
  const spec = resolveSpec(specInput);
  for (const [name, prefix] of [
    ["manifestPrefix", refs.manifestPrefix],
    ["resultsPrefix", refs.resultsPrefix],
  ] as const) {
    if (prefix !== "" && !prefix.endsWith("/"))
      throw new Error(`${name} must end in "/": ${JSON.stringify(prefix)}`);
  }
  const job = spec.name;
  const toFailed: Catcher = { ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: STATE.recordFailed };
  const runFields = { job, "run_id.$": "$.run_id", "input.$": "$.input" };
  const resultsLocation = { bucket: refs.bucket, "prefix.$": runResultsPrefixFormat(refs, job, true) };

  const plan: TaskState = {
    Type: "Task",
    Comment: "The planner splits the work: a JSONL manifest in S3 (distributed) or items in state (inline)",
    Resource: refs.plannerArn,
    Parameters: {
      ...runFields,
      manifest_location: { bucket: refs.bucket, prefix: refs.manifestPrefix },
      results_location: resultsLocation,
      ledger_ttl_days: spec.ledgerTtlDays,
    },
    ResultPath: "$.plan",
    TimeoutSeconds: spec.timeouts.plannerSeconds,
    Retry: lambdaRetry(spec),
    Catch: [toFailed],
    Next: STATE.recordPlan,
  };

  const work: TaskState = {
    Type: "Task",
    Comment: "A worker processes one batch: { Items, BatchInput }",
    Resource: refs.workerArn,
    TimeoutSeconds: spec.timeouts.workerSeconds,
    Retry: lambdaRetry(spec),
    End: true,
  };

  const process: MapState =
    spec.mode === "distributed"
      ? {
          Type: "Map",
          Comment: "Distributed Map: a transient fleet of workers over the planner's manifest",
          ItemReader: {
            Resource: S3_GET_OBJECT,
            ReaderConfig: { InputType: "JSONL" },
            Parameters: { "Bucket.$": "$.plan.manifest.bucket", "Key.$": "$.plan.manifest.key" },
          },
          ItemBatcher: {
            ...(spec.batching.maxItems !== undefined ? { MaxItemsPerBatch: spec.batching.maxItems } : {}),
            ...(spec.batching.maxBytes !== undefined
              ? { MaxInputBytesPerBatch: spec.batching.maxBytes }
              : {}),
            BatchInput: runFields,
          },
          ItemProcessor: {
            ProcessorConfig: { Mode: "DISTRIBUTED", ExecutionType: spec.childExecutionType },
            StartAt: STATE.work,
            States: { [STATE.work]: work },
          },
          MaxConcurrency: spec.concurrency,
          ...(spec.toleratedFailurePercentage !== undefined
            ? { ToleratedFailurePercentage: spec.toleratedFailurePercentage }
            : {}),
          ...(spec.toleratedFailureCount !== undefined
            ? { ToleratedFailureCount: spec.toleratedFailureCount }
            : {}),
          ResultWriter: {
            Resource: S3_PUT_OBJECT,
            Parameters: { Bucket: refs.bucket, "Prefix.$": runResultsPrefixFormat(refs, job, false) },
          },
          ResultPath: "$.map",
          Catch: [toFailed],
          Next: STATE.finalize,
        }
      : {
          Type: "Map",
          Comment: "Inline Map: items travel in state; each worker gets a batch of one",
          ItemsPath: "$.plan.items",
          ItemSelector: { "Items.$": "States.Array($$.Map.Item.Value)", BatchInput: runFields },
          ItemProcessor: {
            ProcessorConfig: { Mode: "INLINE" },
            StartAt: STATE.work,
            States: { [STATE.work]: work },
          },
          MaxConcurrency: spec.concurrency,
          ResultPath: "$.map",
          Catch: [toFailed],
          Next: STATE.finalize,
        };

  const finalize: TaskState = {
    Type: "Task",
    Comment: "The finalizer reads the Map's results and returns the run's summary",
    Resource: refs.finalizerArn,
    Parameters: { ...runFields, "plan.$": "$.plan", "map.$": "$.map", results_location: resultsLocation },
    ResultPath: "$.summary",
    TimeoutSeconds: spec.timeouts.finalizerSeconds,
    Retry: lambdaRetry(spec),
    Catch: [toFailed],
    Next: STATE.recordSucceeded,
  };

  const definition: StateMachineDefinition = {
    Comment: `Observatory ETL job "${job}" (${spec.mode}): plan -> map -> finalize, recorded in the ledger ${refs.ledgerTable}`,
    StartAt: STATE.defaults,
    TimeoutSeconds: spec.timeouts.runSeconds,
    States: {
      [STATE.defaults]: {
        Type: "Pass",
        Comment: "Execution input is { run_id?, input? }; run_id defaults to the execution name, input to {}",
        Parameters: { "given.$": "$", defaults: { "run_id.$": "$$.Execution.Name", input: {} } },
        Next: STATE.applyDefaults,
      },
      [STATE.applyDefaults]: {
        Type: "Pass",
        Parameters: { "merged.$": "States.JsonMerge($.defaults, $.given, false)" },
        OutputPath: "$.merged",
        Next: STATE.startRun,
      },
      [STATE.startRun]: startRunState({
        table: refs.ledgerTable,
        job,
        resultsUrlPrefix: `s3://${refs.bucket}/${refs.resultsPrefix}${job}/`,
        next: STATE.plan,
        alreadyDone: STATE.alreadySucceeded,
      }),
      [STATE.plan]: plan,
      [STATE.recordPlan]: plannedState({
        table: refs.ledgerTable,
        job,
        next: STATE.process,
        onError: toFailed,
      }),
      [STATE.process]: process,
      [STATE.finalize]: finalize,
      [STATE.recordSucceeded]: succeededState({
        table: refs.ledgerTable,
        job,
        next: STATE.done,
        onError: toFailed,
      }),
      [STATE.done]: {
        Type: "Succeed",
        Comment: "The run's summary is the execution output",
        OutputPath: "$.summary",
      },
      [STATE.alreadySucceeded]: {
        Type: "Succeed",
        Comment: "This run id already SUCCEEDED; nothing was redone",
      },
      [STATE.recordFailed]: failedState({ table: refs.ledgerTable, job, next: STATE.runFailed }),
      [STATE.runFailed]: {
        Type: "Fail",
        Comment: "The run failed: the ledger row has the error, its results_location the FAILED_n.json items",
        ErrorPath: "$.error.Error",
        CausePath: "$.error.Cause",
      },
    },
  };
  return { spec, definition, iam: iamNeeds(spec, refs) };
}

function iamNeeds(spec: ResolvedEtlJobSpec, refs: EtlRefs): IamNeed[] {
  const functions = [refs.plannerArn, refs.workerArn, refs.finalizerArn];
  const tableArn =
    refs.ledgerTableArn ??
    `arn:aws:dynamodb:${PLACEHOLDER_REGION}:${PLACEHOLDER_ACCOUNT}:table/${refs.ledgerTable}`;
  const needs: IamNeed[] = [
    // Qualified ARNs too (":*"): Step Functions may invoke a version or alias.
    {
      sid: "InvokeOwnFunctions",
      actions: ["lambda:InvokeFunction"],
      resources: [...new Set(functions.flatMap((a) => [a, `${a}:*`]))],
    },
    { sid: "WriteLedger", actions: ["dynamodb:UpdateItem"], resources: [tableArn] },
  ];
  if (spec.mode === "distributed") {
    needs.push(
      {
        sid: "ReadManifests",
        actions: ["s3:GetObject"],
        resources: [`arn:aws:s3:::${refs.bucket}/${refs.manifestPrefix}${spec.name}/*`],
      },
      {
        // What the ResultWriter needs to write (multipart for large result files) and read back.
        sid: "WriteMapResults",
        actions: ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
        resources: [`arn:aws:s3:::${refs.bucket}/${refs.resultsPrefix}${spec.name}/*`],
      },
    );
  }
  return needs;
}

/**
 * A Distributed Map starts child executions of its own state machine, whose ARN exists only after the
 * state machine is created: the component attaches these in a separate policy.
 */
export function selfIamNeeds(stateMachineArn: string): IamNeed[] {
  const match = /^arn:(aws[a-z-]*):states:([^:]+):([^:]+):stateMachine:(.+)$/.exec(stateMachineArn);
  if (!match) throw new Error(`not a state machine ARN: ${stateMachineArn}`);
  const [, partition, region, account, name] = match;
  return [
    { sid: "StartOwnChildExecutions", actions: ["states:StartExecution"], resources: [stateMachineArn] },
    {
      sid: "ManageOwnChildExecutions",
      actions: ["states:DescribeExecution", "states:StopExecution"],
      resources: [`arn:${partition}:states:${region}:${account}:execution:${name}/*`],
    },
  ];
}

export { DYNAMODB_UPDATE_ITEM };
