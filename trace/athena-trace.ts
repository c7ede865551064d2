import type { AthenaClient } from "@aws-sdk/client-athena";
import { LOGS_TABLE } from "../contracts/logs-table.js";
import { runAthenaQuery } from "../query/athena-runner.js";
import { DEFAULT_TRACE_DAYS, eventMessage, recentDays, type TimelineEntry } from "./timeline.js";

export interface AthenaTraceOptions {
  client: AthenaClient;
  correlationId: string;
  workGroup: string;
  /** Glue database of the `logs` table (LogCentralizer). */
  logsDatabase: string;
  /** Glue database of the `events` table (MetricPipeline); omit to trace logs only. */
  eventsDatabase?: string;
  days?: number;
  now?: Date;
  onProgress?: (state: string) => void;
}

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
const identifier = (name: string) => {
  if (!/^[a-z0-9_]+$/.test(name))
    throw new Error(`Glue database name must be lowercase letters, digits and _: ${JSON.stringify(name)}`);
  return `"${name}"`;
};

/**
 * The trace SQL: log lines and events of one correlation ID, restricted to the recent `dt` partitions
 * so Athena scans days, not the whole archive. Platform lines join in through their request id.
 */
export function traceSql(
  options: Pick<AthenaTraceOptions, "correlationId" | "logsDatabase" | "eventsDatabase" | "days" | "now">,
): string {
  const days = recentDays(options.now ?? new Date(), options.days ?? DEFAULT_TRACE_DAYS);
  const dt = `dt BETWEEN ${literal(days[0]!)} AND ${literal(days[days.length - 1]!)}`;
  const id = literal(options.correlationId);
  const logs = `${identifier(options.logsDatabase)}.${LOGS_TABLE}`;
  const parts = [
    `SELECT 'log' AS kind, to_unixtime("time") * 1000 AS t, log_id, service, function_name AS fn, level, message, CAST(NULL AS varchar) AS event, CAST(NULL AS varchar) AS properties
FROM ${logs}
WHERE ${dt} AND (correlation_id = ${id}
  OR (correlation_id IS NULL AND function_request_id IN (SELECT function_request_id FROM ${logs} WHERE ${dt} AND correlation_id = ${id} AND function_request_id IS NOT NULL)))`,
  ];
  if (options.eventsDatabase) {
    parts.push(`SELECT 'event', to_unixtime(event_time) * 1000, event_id, service, json_extract_scalar(context, '$.function_name'), CAST(NULL AS varchar), CAST(NULL AS varchar), event, properties
FROM ${identifier(options.eventsDatabase)}.events
WHERE ${dt} AND correlation_id = ${id}`);
  }
  return `${parts.join("\nUNION ALL\n")}\nORDER BY t`;
}

/** Everything of one correlation ID through Athena (the `logs` and `events` tables). */
export async function traceAthena(options: AthenaTraceOptions): Promise<TimelineEntry[]> {
  const result = await runAthenaQuery({
    client: options.client,
    sql: traceSql(options),
    workGroup: options.workGroup,
    onProgress: (p) => options.onProgress?.(p.state),
  });
  return result.rows.map((r) => ({
    time: new Date(Number(r.t)),
    service: (r.service as string | null) ?? null,
    function: (r.fn as string | null) ?? null,
    level: (r.level as string | null) ?? null,
    kind: r.kind === "event" ? "event" : "log",
    message: r.kind === "event" ? eventMessage(String(r.event), r.properties) : String(r.message ?? ""),
    ...(r.kind === "event" || r.log_id === null || r.log_id === undefined ? {} : { seq: String(r.log_id) }),
  }));
}
