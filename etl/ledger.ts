/**
 * The job ledger: one DynamoDB row per run (hash key `job`, range key `run`, TTL on `expires_at`),
 * the audit trail of what ran, when, on how many items, and where its failed items are.
 *
 * Writes are direct Step Functions -> DynamoDB service integrations (`arn:aws:states:::dynamodb:updateItem`)
 * built here, so user handlers need no table access and the ledger is written even when a Lambda
 * fails. Reads (the CLI, tests) use @aws-sdk/lib-dynamodb.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { Catcher, Retrier, TaskState } from "./asl.js";
import { formatIntrinsic } from "./asl.js";

export const LEDGER_HASH_KEY = "job";
export const LEDGER_RANGE_KEY = "run";
export const LEDGER_TTL_ATTRIBUTE = "expires_at";
export const DYNAMODB_UPDATE_ITEM = "arn:aws:states:::dynamodb:updateItem";
/** Error name Step Functions gives a failed DynamoDB condition (service prefix + SDK error name). */
export const CONDITION_FAILED_ERROR = "DynamoDB.ConditionalCheckFailedException";

/** The columns `observatory etl runs` prints, locally and on AWS: a run's row of the ledger. */
export const LEDGER_RUN_COLUMNS = [
  "run",
  "status",
  "attempts",
  "started_at",
  "finished_at",
  "planned_items",
  "skipped_items",
  "total_items",
  "succeeded_items",
  "failed_items",
  "error",
  "results_location",
];

export type RunStatus = "RUNNING" | "SUCCEEDED" | "FAILED";

/** A ledger row as read back. */
export interface LedgerRun {
  job: string;
  run: string;
  status: RunStatus;
  attempts: number;
  execution?: string;
  started_at?: string;
  finished_at?: string;
  planned_items?: number;
  skipped_items?: number;
  total_items?: number;
  succeeded_items?: number;
  failed_items?: number;
  /** `s3://bucket/prefix/` holding this run's Map results (manifest.json, SUCCEEDED_n.json, FAILED_n.json). */
  results_location?: string;
  /** The finalizer's RunSummary as JSON. */
  summary?: string;
  error?: string;
  cause?: string;
  expires_at?: number;
}

/** Throttling and 5xx of DynamoDB are worth retrying; a failed condition is not. */
const DYNAMODB_RETRY: Retrier[] = [
  {
    ErrorEquals: [
      "DynamoDB.ProvisionedThroughputExceededException",
      "DynamoDB.ThrottlingException",
      "DynamoDB.RequestLimitExceeded",
      "DynamoDB.InternalServerErrorException",
    ],
    IntervalSeconds: 1,
    MaxAttempts: 5,
    BackoffRate: 2,
    JitterStrategy: "FULL",
  },
];

const key = (job: string) => ({
  [LEDGER_HASH_KEY]: { S: job },
  [LEDGER_RANGE_KEY]: { "S.$": "$.run_id" },
});

/** `{"N.$": "States.Format('{}', path)"}`: DynamoDB JSON wants numbers as strings. */
const number = (path: string) => ({ "N.$": `States.Format('{}', ${path})` });

/**
 * First state of a run: marks it RUNNING unless it already SUCCEEDED (then the condition fails and
 * `alreadyDone` ends the execution without redoing anything). A FAILED run is resumed.
 */
export function startRunState(o: {
  table: string;
  job: string;
  resultsUrlPrefix: string;
  next: string;
  alreadyDone: string;
}): TaskState {
  return {
    Type: "Task",
    Comment: "Ledger: mark the run RUNNING unless it already SUCCEEDED (idempotent re-run)",
    Resource: DYNAMODB_UPDATE_ITEM,
    Parameters: {
      TableName: o.table,
      Key: key(o.job),
      ConditionExpression: "attribute_not_exists(#status) OR #status <> :succeeded",
      UpdateExpression:
        "SET #status = :running, started_at = :now, execution = :execution, results_location = :results REMOVE finished_at, #error, cause ADD attempts :one",
      ExpressionAttributeNames: { "#status": "status", "#error": "error" },
      ExpressionAttributeValues: {
        ":running": { S: "RUNNING" },
        ":succeeded": { S: "SUCCEEDED" },
        ":now": { "S.$": "$$.State.EnteredTime" },
        ":execution": { "S.$": "$$.Execution.Id" },
        ":results": { "S.$": formatIntrinsic([o.resultsUrlPrefix, "/"], ["$.run_id"]) },
        ":one": { N: "1" },
      },
    },
    ResultPath: null,
    Retry: DYNAMODB_RETRY,
    Catch: [{ ErrorEquals: [CONDITION_FAILED_ERROR], Next: o.alreadyDone, ResultPath: null }],
    Next: o.next,
  };
}

/** After planning: how many items, how many skipped as already done, and the row's TTL. */
export function plannedState(o: { table: string; job: string; next: string; onError: Catcher }): TaskState {
  return {
    Type: "Task",
    Comment: "Ledger: record the plan (item counts) and the row's TTL",
    Resource: DYNAMODB_UPDATE_ITEM,
    Parameters: {
      TableName: o.table,
      Key: key(o.job),
      UpdateExpression: "SET planned_items = :planned, skipped_items = :skipped, #ttl = :ttl",
      ExpressionAttributeNames: { "#ttl": LEDGER_TTL_ATTRIBUTE },
      ExpressionAttributeValues: {
        ":planned": number("$.plan.item_count"),
        ":skipped": number("$.plan.skipped_count"),
        ":ttl": number("$.plan.expires_at"),
      },
    },
    ResultPath: null,
    Retry: DYNAMODB_RETRY,
    Catch: [o.onError],
    Next: o.next,
  };
}

/** After the finalizer: SUCCEEDED with the summary's counts. */
export function succeededState(o: { table: string; job: string; next: string; onError: Catcher }): TaskState {
  return {
    Type: "Task",
    Comment: "Ledger: mark the run SUCCEEDED with its item counts and summary",
    Resource: DYNAMODB_UPDATE_ITEM,
    Parameters: {
      TableName: o.table,
      Key: key(o.job),
      UpdateExpression:
        "SET #status = :succeeded, finished_at = :now, total_items = :total, succeeded_items = :ok, failed_items = :failed, summary = :summary",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":succeeded": { S: "SUCCEEDED" },
        ":now": { "S.$": "$$.State.EnteredTime" },
        ":total": number("$.summary.total_items"),
        ":ok": number("$.summary.succeeded_items"),
        ":failed": number("$.summary.failed_items"),
        ":summary": { "S.$": "States.JsonToString($.summary)" },
      },
    },
    ResultPath: null,
    Retry: DYNAMODB_RETRY,
    Next: o.next,
  };
}

/** On any failure: FAILED with the error and cause; results_location (set at start) holds FAILED_n.json. */
export function failedState(o: { table: string; job: string; next: string }): TaskState {
  return {
    Type: "Task",
    Comment: "Ledger: mark the run FAILED with the error; its failed items are under results_location",
    Resource: DYNAMODB_UPDATE_ITEM,
    Parameters: {
      TableName: o.table,
      Key: key(o.job),
      UpdateExpression: "SET #status = :failed, finished_at = :now, #error = :error, cause = :cause",
      ExpressionAttributeNames: { "#status": "status", "#error": "error" },
      ExpressionAttributeValues: {
        ":failed": { S: "FAILED" },
        ":now": { "S.$": "$$.State.EnteredTime" },
        ":error": { "S.$": "$.error.Error" },
        ":cause": { "S.$": "$.error.Cause" },
      },
    },
    ResultPath: null,
    Retry: DYNAMODB_RETRY,
    Next: o.next,
  };
}

/** Reads one run's row (undefined when the run never started). */
export async function getRun(
  client: DynamoDBClient,
  table: string,
  job: string,
  run: string,
): Promise<LedgerRun | undefined> {
  const doc = DynamoDBDocumentClient.from(client);
  const { Item } = await doc.send(
    new GetCommand({
      TableName: table,
      Key: { [LEDGER_HASH_KEY]: job, [LEDGER_RANGE_KEY]: run },
      ConsistentRead: true,
    }),
  );
  return Item as LedgerRun | undefined;
}

/** The most recent runs of a job (run ids sort by time when they start with a timestamp, as generated ones do). */
export async function listRuns(
  client: DynamoDBClient,
  table: string,
  job: string,
  limit = 20,
): Promise<LedgerRun[]> {
  const doc = DynamoDBDocumentClient.from(client);
  const { Items } = await doc.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: "#job = :job",
      ExpressionAttributeNames: { "#job": LEDGER_HASH_KEY },
      ExpressionAttributeValues: { ":job": job },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return (Items ?? []) as LedgerRun[];
}

/**
 * Creates the ledger table when missing (the local stack; on AWS the EtlFleet component owns it).
 * Same key schema and TTL attribute as the component's table.
 */
export async function ensureLedgerTable(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
    return;
  } catch (error) {
    if ((error as { name?: string }).name !== "ResourceNotFoundException") throw error;
  }
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: LEDGER_HASH_KEY, AttributeType: "S" },
          { AttributeName: LEDGER_RANGE_KEY, AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: LEDGER_HASH_KEY, KeyType: "HASH" },
          { AttributeName: LEDGER_RANGE_KEY, KeyType: "RANGE" },
        ],
      }),
    );
  } catch (error) {
    // Two commands starting at once may both try to create it.
    if ((error as { name?: string }).name !== "ResourceInUseException") throw error;
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: LEDGER_TTL_ATTRIBUTE, Enabled: true },
      }),
    );
  } catch {
    // dynalite does not implement UpdateTimeToLive; TTL only matters on AWS, where the component sets it.
  }
}
