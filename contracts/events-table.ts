/**
 * The one source of truth for the query tables' columns. The compaction worker writes Parquet with
 * these columns and types; MetricPipeline declares the Glue tables from the same lists.
 */
export interface ColumnSpec {
  name: string;
  /** Glue / Athena (Hive DDL) type. */
  glueType: string;
  /** DuckDB type used when writing the Parquet file. */
  duckdbType: string;
  comment: string;
}

export const PARTITION_KEYS: ColumnSpec[] = [
  { name: "dt", glueType: "string", duckdbType: "VARCHAR", comment: "UTC date of event_time, YYYY-MM-DD" },
  { name: "hour", glueType: "string", duckdbType: "VARCHAR", comment: "UTC hour of event_time, HH" },
];

export const EVENTS_COLUMNS: ColumnSpec[] = [
  { name: "event_id", glueType: "string", duckdbType: "VARCHAR", comment: "client UUID, unique" },
  { name: "event", glueType: "string", duckdbType: "VARCHAR", comment: "snake_case event name" },
  { name: "event_time", glueType: "timestamp", duckdbType: "TIMESTAMP", comment: "UTC, ms" },
  { name: "received_at", glueType: "timestamp", duckdbType: "TIMESTAMP", comment: "UTC, ms" },
  { name: "user_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "anonymous_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "correlation_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "service", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "stage", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "properties", glueType: "string", duckdbType: "VARCHAR", comment: "JSON object" },
  { name: "context", glueType: "string", duckdbType: "VARCHAR", comment: "JSON object" },
];
