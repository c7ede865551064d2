import type { EventSchema } from "../../contracts/event-schema.js";
import {
  type ColumnSpec,
  EVENTS_COLUMNS,
  QUARANTINE_COLUMNS,
  eventSchemaColumns,
  propertyOfColumn,
} from "../../contracts/events-table.js";
import { sqlIdentifier, sqlString } from "./duckdb.js";

/**
 * What the compaction job writes, table by table: the columns (from contracts/events-table.ts, the
 * one source of truth shared with Glue), how a row of the staged chunk becomes a row of the table, and
 * the key that makes two rows the same row (deduplication).
 */
export interface CompactionTable {
  name: string;
  columns: ColumnSpec[];
  /** SQL expression per column over the chunk's cleaned rows (relation `chunk_rows`). */
  select: Record<string, string>;
  /** SQL filter over `chunk_rows` choosing this table's rows (per-event tables). */
  where?: string;
  /** Rows with equal values here are one row: the first kept (earliest received, existing before new). */
  dedupKey: string;
  /** Column that decides the dt/hour partition and sorts the file (so Parquet min/max stats prune). */
  timeColumn: string;
}

export const EVENTS_TABLE = "events";
export const QUARANTINE_TABLE = "quarantine";

/** The events table plus one table per declared event schema. */
export function eventTables(schemas: EventSchema[]): CompactionTable[] {
  const names = new Set<string>([EVENTS_TABLE, QUARANTINE_TABLE]);
  const tables: CompactionTable[] = [
    {
      name: EVENTS_TABLE,
      columns: EVENTS_COLUMNS,
      select: Object.fromEntries(EVENTS_COLUMNS.map((c) => [c.name, sqlIdentifier(c.name)])),
      dedupKey: "event_id",
      timeColumn: "event_time",
    },
  ];
  for (const schema of schemas) {
    if (names.has(schema.event)) {
      throw new Error(`event schema ${JSON.stringify(schema.event)} would collide with the table of that name; rename the event`);
    }
    names.add(schema.event);
    const columns = eventSchemaColumns(schema);
    tables.push({
      name: schema.event,
      columns,
      select: Object.fromEntries(columns.map((c) => [c.name, columnFromEventRow(c)])),
      where: `event = ${sqlString(schema.event)}`,
      dedupKey: "event_id",
      timeColumn: "event_time",
    });
  }
  return tables;
}

export const QUARANTINE_COMPACTION_TABLE: CompactionTable = {
  name: QUARANTINE_TABLE,
  columns: QUARANTINE_COLUMNS,
  select: Object.fromEntries(QUARANTINE_COLUMNS.map((c) => [c.name, sqlIdentifier(c.name)])),
  // A re-read raw object repeats (request_id, index); a client's retry is a new request and is kept,
  // because each attempt really was rejected.
  dedupKey: "request_id, coalesce(batch_index, -1)",
  timeColumn: "quarantined_at",
};

function columnFromEventRow(column: ColumnSpec): string {
  const property = propertyOfColumn(column);
  if (property === undefined) return sqlIdentifier(column.name);
  // TRY_CAST: the collector validated declared events, but a value of an older schema version that no
  // longer fits becomes NULL here instead of failing the whole chunk; the events table keeps the raw JSON.
  const path = sqlString(`$.${JSON.stringify(property)}`);
  return `TRY_CAST(json_extract_string(properties, ${path}) AS ${column.duckdbType})`;
}

/** `name TYPE` pairs for read_json's explicit `columns` argument. */
export function jsonColumns(columns: Record<string, string>): string {
  return `{${Object.entries(columns)
    .map(([name, type]) => `${sqlIdentifier(name)}: ${sqlString(type)}`)
    .join(", ")}}`;
}
