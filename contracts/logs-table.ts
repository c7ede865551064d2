import { createHash } from "node:crypto";
import type { ColumnSpec } from "./events-table.js";
import { tablePrefix } from "./storage-layout.js";

/**
 * The `logs` table: one row per CloudWatch Logs event. The one source of truth for the log consumer's
 * Parquet and LogCentralizer's Glue table.
 */
export const LOGS_TABLE = "logs";

export const LOGS_PARTITION_KEYS: ColumnSpec[] = [
  { name: "dt", glueType: "string", duckdbType: "VARCHAR", comment: "UTC date of the log event, YYYY-MM-DD" },
  {
    name: "service",
    glueType: "string",
    duckdbType: "VARCHAR",
    comment: "service that wrote the line (or the log group's function)",
  },
];

export const LOGS_COLUMNS: ColumnSpec[] = [
  { name: "log_id", glueType: "string", duckdbType: "VARCHAR", comment: "CloudWatch Logs event id, unique" },
  // TIMESTAMP_MS: Parquet INT64 milliseconds (what Athena reads as `timestamp`), values in UTC.
  {
    name: "time",
    glueType: "timestamp",
    duckdbType: "TIMESTAMP_MS",
    comment: "when the line was written (the line's own timestamp when it has one), UTC",
  },
  {
    name: "ingested_at",
    glueType: "timestamp",
    duckdbType: "TIMESTAMP_MS",
    comment: "CloudWatch Logs ingestion timestamp of the event, UTC",
  },
  { name: "kind", glueType: "string", duckdbType: "VARCHAR", comment: "json | platform | text" },
  {
    name: "level",
    glueType: "string",
    duckdbType: "VARCHAR",
    comment: "DEBUG | INFO | WARN | ERROR | CRITICAL (pino numbers mapped), null when unknown",
  },
  {
    name: "message",
    glueType: "string",
    duckdbType: "VARCHAR",
    comment: "the message (the whole line for plain text)",
  },
  { name: "correlation_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "function_name", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  {
    name: "function_request_id",
    glueType: "string",
    duckdbType: "VARCHAR",
    comment: "Lambda request id (also of START/END/REPORT lines)",
  },
  { name: "xray_trace_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "cold_start", glueType: "boolean", duckdbType: "BOOLEAN", comment: "" },
  { name: "stage", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "log_group", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "log_stream", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "account_id", glueType: "string", duckdbType: "VARCHAR", comment: "owner of the log group" },
  { name: "duration_ms", glueType: "double", duckdbType: "DOUBLE", comment: "REPORT: Duration" },
  {
    name: "billed_duration_ms",
    glueType: "double",
    duckdbType: "DOUBLE",
    comment: "REPORT: Billed Duration",
  },
  { name: "memory_size_mb", glueType: "int", duckdbType: "INTEGER", comment: "REPORT: Memory Size" },
  { name: "max_memory_used_mb", glueType: "int", duckdbType: "INTEGER", comment: "REPORT: Max Memory Used" },
  {
    name: "init_duration_ms",
    glueType: "double",
    duckdbType: "DOUBLE",
    comment: "REPORT: Init Duration (cold starts)",
  },
  {
    name: "fields",
    glueType: "string",
    duckdbType: "VARCHAR",
    comment: "JSON object: every other key of a JSON line",
  },
];

/**
 * Subscription filters LogCentralizer creates are named `<prefix><service>`: the delivery carries the
 * filter's name, so the consumer knows which service a log group belongs to (the `service` partition)
 * without any configuration, and LogCentralizer knows every partition value at deploy time.
 */
export const SUBSCRIPTION_FILTER_PREFIX = "observatory-logs.service=";

/** The service a delivery's subscription filter names, if it is one of ours. */
export function serviceOfSubscriptionFilters(filters: readonly unknown[] | undefined): string | undefined {
  const ours = filters?.find(
    (f): f is string => typeof f === "string" && f.startsWith(SUBSCRIPTION_FILTER_PREFIX),
  );
  const service = ours?.slice(SUBSCRIPTION_FILTER_PREFIX.length);
  return service ? service : undefined;
}

/** Where the consumer keeps what it could not parse (whole payloads), with the reason. */
export const LOGS_QUARANTINE_PREFIX = "quarantine/logs/";
/** Where documents OpenSearch refused are backed up (NDJSON with the error of each). */
export const LOGS_OPENSEARCH_FAILED_PREFIX = "quarantine/logs-opensearch/";

/**
 * Key of the Parquet object for the rows of one subscription delivery that fall in one (dt, service)
 * partition. Deterministic in (log group, stream, first event id), so a retried invocation overwrites
 * its own object instead of adding a duplicate.
 */
export function logsObjectKey(
  dt: string,
  service: string,
  logGroup: string,
  logStream: string,
  firstEventId: string,
): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(dt)) throw new Error(`dt must be YYYY-MM-DD: ${JSON.stringify(dt)}`);
  return `${tablePrefix(LOGS_TABLE)}dt=${dt}/service=${partitionValue(service)}/${deliveryId(logGroup, logStream, firstEventId)}.parquet`;
}

/** Stable short id of one delivery (log group, stream, first event id). */
export function deliveryId(logGroup: string, logStream: string, firstEventId: string): string {
  return createHash("sha256").update(`${logGroup}\n${logStream}\n${firstEventId}`).digest("hex").slice(0, 32);
}

/** A partition value safe in an S3 key and a Hive path (no `/`, `=`, spaces). */
export function partitionValue(value: string): string {
  const safe = value.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 100);
  return safe.length > 0 ? safe : "unknown";
}
