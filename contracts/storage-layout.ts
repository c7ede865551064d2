/**
 * Key layout of the pipeline's bucket. Raw and quarantine objects are partitioned by the hour they
 * were *received* (so a planner finds new arrivals by listing recent prefixes); compacted Parquet is
 * partitioned by the hour the event *happened* (so late events land in their own hour).
 */
export const RAW_PREFIX = "raw/";
export const QUARANTINE_PREFIX = "quarantine/";
/** Every queryable table's Parquet lives under `tables/<table>/<partitions>/` (events, quarantine, logs, per-event tables). */
export const TABLES_PREFIX = "tables/";
/** Manifests and Map results of ETL runs. */
export const ETL_PREFIX = "etl/";

export function tablePrefix(table: string): string {
  if (!/^[a-z][a-z0-9_]*$/.test(table))
    throw new Error(`table name must be lowercase snake_case: ${JSON.stringify(table)}`);
  return `${TABLES_PREFIX}${table}/`;
}

/** `dt=YYYY-MM-DD/hour=HH/` for a UTC instant. */
export function hourPartition(at: Date): { dt: string; hour: string; path: string } {
  const iso = at.toISOString();
  const dt = iso.slice(0, 10);
  const hour = iso.slice(11, 13);
  return { dt, hour, path: `dt=${dt}/hour=${hour}/` };
}

/** Object key of one accepted collector request: gzip NDJSON, one conformed event a line. */
export function rawObjectKey(receivedAt: Date, requestId: string): string {
  return `${RAW_PREFIX}${hourPartition(receivedAt).path}${receivedAt.getTime()}-${safeId(requestId)}.ndjson.gz`;
}

/** Object key of one request's rejected events (or its unparseable body), with their reasons. */
export function quarantineObjectKey(receivedAt: Date, requestId: string): string {
  return `${QUARANTINE_PREFIX}${hourPartition(receivedAt).path}${receivedAt.getTime()}-${safeId(requestId)}.ndjson.gz`;
}

function safeId(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 100);
}
