/** One entry of a request's timeline: a log line or a tracked event, from any service. */
export interface TimelineEntry {
  /** UTC instant. */
  time: Date;
  service: string | null;
  function: string | null;
  level: string | null;
  kind: "log" | "event";
  message: string;
  /** Order among entries of the same millisecond: the CloudWatch event id (ids sort in write order). */
  seq?: string;
}

/** What `observatory trace` prints: entries in time order with their offset from the first. */
export interface TimelineRow {
  time: string;
  offset_ms: number;
  service: string;
  function: string;
  level: string;
  kind: "log" | "event";
  message: string;
}

export const TIMELINE_COLUMNS = [
  "time",
  "offset_ms",
  "service",
  "function",
  "level",
  "kind",
  "message",
] as const;

const bySeq = (a?: string, b?: string) =>
  a === undefined || b === undefined ? 0 : a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

/**
 * Orders entries by time (ties: logs before events, then by event id - write order - then message,
 * so output is stable run to run)
 * and computes each one's offset in ms from the first.
 */
export function buildTimeline(entries: readonly TimelineEntry[]): TimelineRow[] {
  const sorted = [...entries].sort(
    (a, b) =>
      a.time.getTime() - b.time.getTime() ||
      (a.kind === b.kind ? 0 : a.kind === "log" ? -1 : 1) ||
      bySeq(a.seq, b.seq) ||
      a.message.localeCompare(b.message),
  );
  const start = sorted[0]?.time.getTime() ?? 0;
  return sorted.map((e) => ({
    time: e.time.toISOString(),
    offset_ms: e.time.getTime() - start,
    service: e.service ?? "",
    function: e.function ?? "",
    level: e.level ?? "",
    kind: e.kind,
    message: e.message,
  }));
}

/** A tracked event as one timeline line: its name and its properties. */
export function eventMessage(event: string, properties: unknown): string {
  const props = typeof properties === "string" ? properties : JSON.stringify(properties ?? {});
  return props && props !== "{}" ? `${event} ${props}` : event;
}

/** Days to look back when the caller gives no range: a trace is usually of something recent. */
export const DEFAULT_TRACE_DAYS = 7;

/** The `dt` values (YYYY-MM-DD, UTC) from `days - 1` days before `now` through `now`. */
export function recentDays(now: Date, days: number): string[] {
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`--days must be a whole number of at least 1, got ${days}`);
  return Array.from({ length: days }, (_, i) =>
    new Date(now.getTime() - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10),
  );
}
