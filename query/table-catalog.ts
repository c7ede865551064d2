/**
 * The tables the query surface knows, with their columns and partition keys, built from the contracts
 * (the same lists the compaction worker writes and the Glue tables declare). The local engine uses it to
 * offer every table even before it holds data (an empty view with the right columns), so a named query
 * on a fresh stack answers "no rows" instead of "table does not exist".
 */
import type { EventSchema } from "../contracts/event-schema.js";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import {
  type ColumnSpec,
  EVENTS_COLUMNS,
  eventSchemaColumns,
  PARTITION_KEYS,
  QUARANTINE_COLUMNS,
} from "../contracts/events-table.js";
import { LOGS_COLUMNS, LOGS_PARTITION_KEYS, LOGS_TABLE } from "../contracts/logs-table.js";

export interface TableSpec {
  name: string;
  columns: ColumnSpec[];
  /** Hive partition keys, in path order (`dt=.../hour=.../`). Always strings. */
  partitionKeys: ColumnSpec[];
}

export function tableCatalog(eventSchemas: readonly EventSchema[] = DEMO_EVENT_SCHEMAS): TableSpec[] {
  return [
    { name: "events", columns: EVENTS_COLUMNS, partitionKeys: PARTITION_KEYS },
    ...eventSchemas.map((schema) => ({
      name: schema.event,
      columns: eventSchemaColumns(schema),
      partitionKeys: PARTITION_KEYS,
    })),
    { name: "quarantine", columns: QUARANTINE_COLUMNS, partitionKeys: PARTITION_KEYS },
    { name: LOGS_TABLE, columns: LOGS_COLUMNS, partitionKeys: LOGS_PARTITION_KEYS },
  ];
}
