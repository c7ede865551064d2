import type { CloudWatchLogsLogEvent } from "aws-lambda";
import { type PlatformLine, parseJsonPlatformLine, parseTextPlatformLine } from "./platform-line.js";

/** One row of the `logs` table (contracts/logs-table.ts), before typing by DuckDB. Times are epoch ms. */
export interface LogRow {
  log_id: string;
  time: number;
  ingested_at: number;
  kind: "json" | "platform" | "text";
  level: string | null;
  message: string;
  correlation_id: string | null;
  function_name: string | null;
  function_request_id: string | null;
  xray_trace_id: string | null;
  cold_start: boolean | null;
  stage: string | null;
  log_group: string;
  log_stream: string;
  account_id: string | null;
  duration_ms: number | null;
  billed_duration_ms: number | null;
  memory_size_mb: number | null;
  max_memory_used_mb: number | null;
  init_duration_ms: number | null;
  /** Every other key of a JSON line, as a JSON object string. */
  fields: string | null;
  /** Partition value; null when the line does not say (the delivery's service fills it in). */
  service: string | null;
}

export interface DeliverySource {
  logGroup: string;
  logStream: string;
  owner: string | null;
}

type Obj = Record<string, unknown>;

/** pino's numeric levels (10 trace ... 60 fatal) in the names our table uses. */
const PINO_LEVELS: [number, string][] = [
  [60, "CRITICAL"],
  [50, "ERROR"],
  [40, "WARN"],
  [30, "INFO"],
  [20, "DEBUG"],
  [0, "TRACE"],
];
const LEVEL_NAMES: Record<string, string> = {
  TRACE: "TRACE",
  DEBUG: "DEBUG",
  INFO: "INFO",
  INFORMATION: "INFO",
  WARN: "WARN",
  WARNING: "WARN",
  ERROR: "ERROR",
  ERR: "ERROR",
  FATAL: "CRITICAL",
  CRITICAL: "CRITICAL",
};

export function normalizeLevel(value: unknown): string | null {
  if (typeof value === "number") return PINO_LEVELS.find(([n]) => value >= n)?.[1] ?? null;
  if (typeof value === "string") return LEVEL_NAMES[value.trim().toUpperCase()] ?? null;
  return null;
}

/** `/aws/lambda/<function>` is where Lambda writes; other groups have no function. */
export function functionNameOfLogGroup(logGroup: string): string | null {
  return logGroup.startsWith("/aws/lambda/") ? logGroup.slice("/aws/lambda/".length) || null : null;
}

const str = (v: unknown): string | null =>
  typeof v === "string" && v.length > 0 ? v : typeof v === "number" ? String(v) : null;

function epochOf(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return value < 1e11 ? value * 1000 : value; // seconds or ms
  if (typeof value === "string") {
    const t = Date.parse(value);
    return Number.isFinite(t) ? t : null;
  }
  return null;
}

/**
 * A line's own timestamp is trusted only this far from CloudWatch's ingestion time: CloudWatch
 * itself refuses events older than 14 days or more than 2 hours ahead, so anything further is a
 * wrong clock or a field that only looks like a time - and would land in a partition no query reads.
 */
export const MAX_LINE_TIME_SKEW_MS = 14 * 24 * 3_600_000;

/** The line's time when plausible, else the ingestion time. */
function plausibleTime(lineTime: number | null, ingestedAt: number): number {
  return lineTime !== null &&
    Number.isFinite(lineTime) &&
    Math.abs(lineTime - ingestedAt) <= MAX_LINE_TIME_SKEW_MS
    ? lineTime
    : ingestedAt;
}

/** Keys we lift into columns; the rest of a JSON line stays in `fields`. */
const LIFTED = new Set([
  "level",
  "levelname",
  "message",
  "msg",
  "timestamp",
  "time",
  "service",
  "correlation_id",
  "correlationId",
  "function_name",
  "function_request_id",
  "requestId",
  "xray_trace_id",
  "cold_start",
  "stage",
]);

function emptyRow(event: CloudWatchLogsLogEvent, source: DeliverySource, message: string): LogRow {
  return {
    log_id: event.id,
    time: event.timestamp,
    ingested_at: event.timestamp,
    kind: "text",
    level: null,
    message,
    correlation_id: null,
    function_name: functionNameOfLogGroup(source.logGroup),
    function_request_id: null,
    xray_trace_id: null,
    cold_start: null,
    stage: null,
    log_group: source.logGroup,
    log_stream: source.logStream,
    account_id: source.owner,
    duration_ms: null,
    billed_duration_ms: null,
    memory_size_mb: null,
    max_memory_used_mb: null,
    init_duration_ms: null,
    fields: null,
    service: null,
  };
}

function applyPlatform(row: LogRow, platform: PlatformLine): LogRow {
  row.kind = "platform";
  row.level = "INFO";
  row.function_request_id = platform.requestId;
  row.duration_ms = platform.durationMs;
  row.billed_duration_ms = platform.billedDurationMs;
  row.memory_size_mb = platform.memorySizeMb;
  row.max_memory_used_mb = platform.maxMemoryUsedMb;
  row.init_duration_ms = platform.initDurationMs;
  row.xray_trace_id = platform.xrayTraceId;
  row.time = plausibleTime(platform.time, row.ingested_at);
  return row;
}

function applyJson(row: LogRow, value: Obj): LogRow {
  row.kind = "json";
  row.level = normalizeLevel(value.level ?? value.levelname);
  const message = value.message ?? value.msg;
  row.message =
    typeof message === "string" ? message : message === undefined ? row.message : JSON.stringify(message);
  row.time = plausibleTime(epochOf(value.timestamp ?? value.time), row.ingested_at);
  row.service = str(value.service);
  row.correlation_id = str(value.correlation_id ?? value.correlationId);
  row.function_name = str(value.function_name) ?? row.function_name;
  row.function_request_id = str(value.function_request_id ?? value.requestId);
  row.xray_trace_id = str(value.xray_trace_id);
  row.cold_start = typeof value.cold_start === "boolean" ? value.cold_start : null;
  row.stage = str(value.stage);
  const rest: Obj = {};
  let any = false;
  for (const [k, v] of Object.entries(value)) {
    if (!LIFTED.has(k)) {
      rest[k] = v;
      any = true;
    }
  }
  row.fields = any ? JSON.stringify(rest) : null;
  return row;
}

/** Node's Lambda text format for console.*: `<ISO time>\t<request id>\t<LEVEL>\t<message>`. */
const NODE_TEXT_LINE =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)\t([0-9a-f-]{36}|undefined)\t([A-Z]+)\t([\s\S]*)$/;
/** `[ERROR] message`, `ERROR: message`, `WARN message` at the start of a plain line. */
const LEADING_LEVEL = /^\[?(TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\]?:?\s/i;

function parseJsonObject(text: string): Obj | undefined {
  if (!text.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Obj) : undefined;
  } catch {
    return undefined; // Not JSON after all (or truncated): kept as text.
  }
}

/**
 * One CloudWatch Logs event as a `logs` row. Never throws: whatever the line is, it is kept (the
 * whole line as the message when nothing better is known).
 */
export function parseLogEvent(event: CloudWatchLogsLogEvent, source: DeliverySource): LogRow {
  const message = event.message.endsWith("\n") ? event.message.slice(0, -1) : event.message;
  const row = emptyRow(event, source, message);
  const trimmed = message.trimStart();
  const json = parseJsonObject(trimmed);
  if (json) {
    const platform = parseJsonPlatformLine(json);
    return platform ? applyPlatform(row, platform) : applyJson(row, json);
  }
  const platform = parseTextPlatformLine(trimmed);
  if (platform) return applyPlatform(row, platform);
  const node = NODE_TEXT_LINE.exec(message);
  if (node) {
    const [, time, requestId, level, rest] = node;
    const inner = parseJsonObject(rest!.trimStart());
    if (inner) applyJson(row, inner);
    else row.message = rest!;
    row.time = plausibleTime(Date.parse(time!), row.ingested_at);
    row.level = row.level ?? normalizeLevel(level);
    if (requestId !== "undefined") row.function_request_id = row.function_request_id ?? requestId!;
    return row;
  }
  const leading = LEADING_LEVEL.exec(trimmed);
  if (leading) row.level = normalizeLevel(leading[1]);
  return row;
}
