import { gunzipSync } from "node:zlib";
import type { SourceKind } from "./transform.js";

/**
 * Checks one raw object line by line, in Node, against the record shape the collector writes
 * (contracts/event-record.ts): what DuckDB would refuse, so that a chunk holding a poison object or a
 * malformed line can compact its good lines and quarantine the rest. Only used after DuckDB refused a
 * chunk: the happy path never pays for it.
 */

/** DuckDB read_json's default maximum_object_size (16 MiB): a longer line fails the whole read. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

export interface BadLine {
  /** 0-based line number in the decompressed object. */
  index: number;
  /** The line as text (UTF-8) or base64 when it is not UTF-8. */
  payload: string;
  payloadEncoding: "json" | "utf8" | "base64";
  reasons: string[];
  /** Fields recovered from a line that parsed as a JSON object (for the quarantine record). */
  eventId: string | null;
  event: string | null;
  correlationId: string | null;
}

export type ObjectInspection =
  /** Every line is what the collector writes. */
  | { kind: "good" }
  /** The object cannot be read at all (not gzip, truncated gzip, ...). */
  | { kind: "unreadable"; reason: string }
  /** Readable, with some bad lines: `goodText` holds the other lines (NDJSON). */
  | { kind: "partly-bad"; goodText: string; goodLines: number; badLines: BadLine[] };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const NEWLINE = 0x0a;

export function inspectRawObject(kind: SourceKind, gzipBytes: Buffer): ObjectInspection {
  let bytes: Buffer;
  try {
    bytes = gunzipSync(gzipBytes);
  } catch (error) {
    return { kind: "unreadable", reason: `not a readable gzip object: ${(error as Error).message}` };
  }
  const good: string[] = [];
  const bad: BadLine[] = [];
  let index = 0;
  for (let start = 0; start < bytes.length; index++) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end === -1) end = bytes.length;
    const lineBytes = bytes.subarray(start, end);
    start = end + 1;
    const problem = inspectLine(kind, lineBytes, index);
    if (problem === "blank") continue;
    if (problem === undefined) good.push(lineBytes.toString("utf8"));
    else bad.push(problem);
  }
  if (bad.length === 0) return { kind: "good" };
  return {
    kind: "partly-bad",
    goodText: good.map((line) => `${line}\n`).join(""),
    goodLines: good.length,
    badLines: bad,
  };
}

/** undefined: a good line; "blank": nothing to keep (DuckDB skips it too); else why it is bad. */
function inspectLine(kind: SourceKind, lineBytes: Buffer, index: number): BadLine | "blank" | undefined {
  let text: string;
  try {
    text = strictUtf8.decode(lineBytes);
  } catch {
    return badLine(index, lineBytes.toString("base64"), "base64", ["the line is not UTF-8"]);
  }
  if (text.trim() === "") return "blank";
  if (lineBytes.length > MAX_LINE_BYTES)
    return badLine(index, text, "utf8", [`the line is ${lineBytes.length} bytes, over ${MAX_LINE_BYTES}`]);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return badLine(index, text, "utf8", [`the line is not JSON: ${(error as Error).message}`]);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return badLine(index, text, "utf8", ["the line is not a JSON object"]);
  const record = value as Record<string, unknown>;
  const reasons = kind === "events" ? eventRecordProblems(record) : quarantineRecordProblems(record);
  if (reasons.length === 0) return undefined;
  return {
    ...badLine(index, text, "json", reasons),
    eventId: typeof record.event_id === "string" ? record.event_id : null,
    event: typeof record.event === "string" ? record.event : null,
    correlationId: typeof record.correlation_id === "string" ? record.correlation_id : null,
  };
}

function badLine(
  index: number,
  payload: string,
  payloadEncoding: BadLine["payloadEncoding"],
  reasons: string[],
): BadLine {
  return { index, payload, payloadEncoding, reasons, eventId: null, event: null, correlationId: null };
}

/** RawEventRecord: what transform.ts reads (the columns it casts) must be there and castable. */
export function eventRecordProblems(r: Record<string, unknown>): string[] {
  return [
    ...nonEmptyString(r, "event_id"),
    ...nonEmptyString(r, "event"),
    ...timestamp(r, "event_time", true),
    ...timestamp(r, "received_at", false),
    ...optional(r, ["user_id", "anonymous_id", "correlation_id", "service", "stage"], isString, "a string"),
    ...optional(r, ["properties", "context"], isPlainObject, "a JSON object"),
    ...optional(r, ["schema_version"], isInt32, "an integer"),
  ];
}

/** QuarantineRecord (a quarantine object written by anything but the collector may be foreign too). */
export function quarantineRecordProblems(r: Record<string, unknown>): string[] {
  return [
    ...timestamp(r, "quarantined_at", true),
    ...nonEmptyString(r, "request_id"),
    ...optional(
      r,
      ["correlation_id", "event_id", "event", "payload", "payload_encoding"],
      isString,
      "a string",
    ),
    ...optional(r, ["status", "index"], isInt32, "an integer"),
    ...optional(
      r,
      ["reasons"],
      (v) => Array.isArray(v) && v.every((reason) => typeof reason === "string"),
      "an array of strings",
    ),
  ];
}

function nonEmptyString(r: Record<string, unknown>, field: string): string[] {
  return typeof r[field] === "string" && r[field] !== "" ? [] : [`${field} must be a non-empty string`];
}

/** An ISO-8601 instant with a zone, as the collector writes (DuckDB casts it through TIMESTAMPTZ). */
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$/;

function timestamp(r: Record<string, unknown>, field: string, required: boolean): string[] {
  const value = r[field];
  if (value === undefined || value === null) return required ? [`${field} is missing`] : [];
  const match = typeof value === "string" ? ISO_INSTANT.exec(value) : null;
  if (!match || Number.isNaN(Date.parse(value as string)))
    return [`${field} must be an ISO-8601 time with a zone: ${JSON.stringify(value)}`];
  // Date.parse rolls 2026-02-30 over to March; DuckDB refuses it.
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return [`${field} is not a calendar date: ${JSON.stringify(value)}`];
  return [];
}

function optional(
  r: Record<string, unknown>,
  fields: string[],
  check: (value: unknown) => boolean,
  what: string,
): string[] {
  return fields
    .filter((field) => r[field] !== undefined && r[field] !== null && !check(r[field]))
    .map((field) => `${field} must be ${what} or null`);
}

const isString = (v: unknown) => typeof v === "string";
const isPlainObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt32 = (v: unknown) => Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31;
