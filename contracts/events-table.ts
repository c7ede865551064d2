import type { EventSchema, JsonSchemaProperty } from "./event-schema.js";

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
  // TIMESTAMP_MS: Parquet INT64 milliseconds (what Athena reads as `timestamp`), values in UTC.
  { name: "event_time", glueType: "timestamp", duckdbType: "TIMESTAMP_MS", comment: "UTC, ms" },
  { name: "received_at", glueType: "timestamp", duckdbType: "TIMESTAMP_MS", comment: "UTC, ms" },
  { name: "user_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "anonymous_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "correlation_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "service", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "stage", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "properties", glueType: "string", duckdbType: "VARCHAR", comment: "JSON object" },
  { name: "context", glueType: "string", duckdbType: "VARCHAR", comment: "JSON object" },
];

/**
 * Columns of a declared event's own table (`tables/<event>/dt=/hour=/`): the events table's columns
 * minus `event` (the table is the event), `properties` (spread into typed columns), and `context` and
 * `correlation_id` (request details for debugging, not analytics: a random UUID and a JSON blob are
 * ~80% of such a file's bytes; the events table keeps them, joined on `event_id`), followed by one
 * typed column per declared property, in the schema's order. A property whose name equals a common
 * column (a `user_id` property, say) becomes `property_<name>` so neither hides the other.
 */
export function eventSchemaColumns(schema: EventSchema): ColumnSpec[] {
  const common = EVENTS_COLUMNS.filter(
    (c) => !["event", "properties", "context", "correlation_id"].includes(c.name),
  );
  const taken = new Set(common.map((c) => c.name));
  const typed = Object.entries(schema.schema.properties).map(([property, spec]) => {
    const name = taken.has(property) ? `property_${property}` : property;
    if (!/^[a-z][a-z0-9_]*$/.test(name)) {
      throw new Error(
        `event schema ${schema.event}: property ${JSON.stringify(property)} is not a snake_case column name`,
      );
    }
    return { name, ...propertyTypes(spec), comment: `properties.${property}` };
  });
  return [...common, ...typed];
}

/** The JSON path of the property a typed column of eventSchemaColumns() comes from. */
export function propertyOfColumn(column: ColumnSpec): string | undefined {
  return column.comment.startsWith("properties.") ? column.comment.slice("properties.".length) : undefined;
}

function propertyTypes(spec: JsonSchemaProperty): { glueType: string; duckdbType: string } {
  switch (spec.type) {
    case "string":
      return { glueType: "string", duckdbType: "VARCHAR" };
    case "integer":
      return { glueType: "bigint", duckdbType: "BIGINT" };
    case "number":
      return { glueType: "double", duckdbType: "DOUBLE" };
    case "boolean":
      return { glueType: "boolean", duckdbType: "BOOLEAN" };
  }
}

/** Table `quarantine`: rejected events and unreadable bodies, partitioned by the hour they were received. */
export const QUARANTINE_COLUMNS: ColumnSpec[] = [
  { name: "quarantined_at", glueType: "timestamp", duckdbType: "TIMESTAMP_MS", comment: "UTC, ms" },
  { name: "request_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "correlation_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "status", glueType: "int", duckdbType: "INTEGER", comment: "HTTP status the request got" },
  {
    name: "batch_index",
    glueType: "int",
    duckdbType: "INTEGER",
    comment:
      "QuarantineRecord.index: the event's index in its batch; null for a whole body (renamed: INDEX is a reserved word in Hive DDL)",
  },
  { name: "event_id", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "event", glueType: "string", duckdbType: "VARCHAR", comment: "" },
  { name: "reasons", glueType: "array<string>", duckdbType: "VARCHAR[]", comment: "why it was rejected" },
  { name: "payload", glueType: "string", duckdbType: "VARCHAR", comment: "original event or body" },
  { name: "payload_encoding", glueType: "string", duckdbType: "VARCHAR", comment: "json | utf8 | base64" },
];
