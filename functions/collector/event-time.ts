import { EPOCH_SECONDS_HINT_BELOW, MAX_FUTURE_SKEW_MS, MIN_EVENT_TIME_MS } from "./limits.js";

/**
 * ISO-8601 date-time with a zone (`Z` or `±HH:MM`). A zone is required: without one, the same text
 * means a different instant on every machine that parses it.
 */
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;

export type Instant = { ms: number; error?: undefined } | { ms?: undefined; error: string };

/** Reads `timestamp` / `sent_at`: an ISO-8601 string with a zone, or epoch milliseconds. */
export function parseInstant(value: unknown, field: string): Instant {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return { error: `${field} must be a finite number of epoch milliseconds` };
    if (Math.abs(value) < EPOCH_SECONDS_HINT_BELOW) {
      return {
        error: `${field} ${value} is before 1973 as epoch milliseconds (epoch seconds? multiply by 1000)`,
      };
    }
    return { ms: Math.trunc(value) };
  }
  if (typeof value !== "string")
    return { error: `${field} must be an ISO-8601 string or epoch milliseconds, not ${describe(value)}` };
  // Fastest path: an hour read recently (a batch's events fall in few hours).
  const inRecentHour = recentHourInstant(value);
  if (inRecentHour !== undefined) return { ms: inRecentHour };
  // Fast path for the exact form toISOString() gives, which the Tracker sends on every event: read by
  // character codes instead of a capturing regex (no match array, no substrings, no Number() calls).
  if (CANONICAL_UTC.test(value)) {
    const year = digits(value, 0, 4);
    const month = digits(value, 5, 2);
    const day = digits(value, 8, 2);
    const hour = digits(value, 11, 2);
    const minute = digits(value, 14, 2);
    const second = digits(value, 17, 2);
    if (!isRealDateTime(year, month, day, hour, minute, second)) return notReal(value, field);
    // What Date.parse gives for this text, without parsing it again; Date.UTC reads years 0-99 as 19xx.
    if (year >= 100) {
      const ms = Date.UTC(year, month - 1, day, hour, minute, second, digits(value, 20, 3));
      rememberHour(value, ms - minute * 60_000 - second * 1000 - digits(value, 20, 3));
      return { ms };
    }
    return { ms: Date.parse(value) };
  }
  const match = ISO_DATE_TIME.exec(value);
  if (!match) {
    return {
      error: `${field} ${JSON.stringify(value.slice(0, 64))} is not ISO-8601 with a zone (e.g. 2026-11-22T15:04:05.123Z)`,
    };
  }
  const [, year, month, day, hour, minute, second] = match;
  if (
    !isRealDateTime(
      Number(year),
      Number(month),
      Number(day),
      Number(hour),
      Number(minute),
      Number(second ?? 0),
    )
  )
    return notReal(value, field);
  const ms = Date.parse(value.replace(" ", "T"));
  if (Number.isNaN(ms))
    return { error: `${field} ${JSON.stringify(value.slice(0, 64))} has an impossible zone offset` };
  return { ms };
}

/** `YYYY-MM-DDTHH:MM:SS.sssZ`: a subset of ISO_DATE_TIME. */
const CANONICAL_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The last few hours read in canonical texts (real dates and hours, years >= 100): a text of each (its
 * first `YYYY-MM-DDTHH:` is the hour) and the hour's instant. A batch's events fall in few hours (the
 * demo's 500 in 4, a Tracker's mostly in one).
 */
const HOUR_PREFIX_LENGTH = "YYYY-MM-DDTHH:".length;
const RECENT_HOURS = 4;
const recentHourTexts: string[] = [];
const recentHourMs: number[] = [];
let nextRecentHour = 0;
/** The slot that matched last, tried first: consecutive events mostly share their hour. */
let lastHourHit = 0;

function rememberHour(text: string, ms: number): void {
  recentHourTexts[nextRecentHour] = text;
  recentHourMs[nextRecentHour] = ms;
  lastHourHit = nextRecentHour;
  nextRecentHour = (nextRecentHour + 1) % RECENT_HOURS;
}

/** True when `a` and `b` start with the same hour. By character codes, last first (the hour's digits
 * differ most often): String.prototype.startsWith costs ~20 ns a call here. */
function sameHour(a: string, b: string): boolean {
  for (let k = HOUR_PREFIX_LENGTH - 1; k >= 0; k--) if (a.charCodeAt(k) !== b.charCodeAt(k)) return false;
  return true;
}

/** The instant of the hour `value` starts with, when it is one of the recent hours. */
function recentHour(value: string): number | undefined {
  const count = recentHourTexts.length;
  for (let tried = 0, i = lastHourHit; tried < count; tried++, i = i + 1 === count ? 0 : i + 1) {
    if (sameHour(value, recentHourTexts[i]!)) {
      lastHourHit = i;
      return recentHourMs[i];
    }
  }
  return undefined;
}

function isDigit(text: string, at: number): boolean {
  const code = text.charCodeAt(at);
  return code >= 48 && code <= 57;
}

/**
 * The instant of a canonical text (CANONICAL_UTC) in one of the recent hours read, or
 * undefined for anything else (which the paths below then read or refuse): only `MM:SS.sssZ` is
 * left to check and read.
 */
function recentHourInstant(value: string): number | undefined {
  if (value.length !== 24) return undefined;
  const hourMs = recentHour(value);
  if (hourMs === undefined) return undefined;
  if (value.charCodeAt(16) !== 58 || value.charCodeAt(19) !== 46 || value.charCodeAt(23) !== 90)
    return undefined;
  if (
    !isDigit(value, 14) ||
    !isDigit(value, 15) ||
    !isDigit(value, 17) ||
    !isDigit(value, 18) ||
    !isDigit(value, 20) ||
    !isDigit(value, 21) ||
    !isDigit(value, 22)
  )
    return undefined;
  const minute = digits(value, 14, 2);
  const second = digits(value, 17, 2);
  if (minute > 59 || second > 59) return undefined;
  return hourMs + minute * 60_000 + second * 1000 + digits(value, 20, 3);
}

/** The decimal number of `length` ASCII digits at `start` (the caller has matched them as digits). */
function digits(text: string, start: number, length: number): number {
  let n = 0;
  for (let i = start; i < start + length; i++) n = n * 10 + text.charCodeAt(i) - 48;
  return n;
}

/**
 * Date.parse would roll 2026-02-31 over to March 3rd: the calendar is checked first, so impossible
 * dates are rejected, not guessed.
 */
function isRealDateTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): boolean {
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59
  );
}

function notReal(value: string, field: string): Instant {
  return { error: `${field} ${JSON.stringify(value.slice(0, 64))} is not a real date-time` };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

/**
 * When it happened, in the collector's clock. With `sent_at` the client's clock offset cancels out:
 * `event_time = received_at - (sent_at - timestamp)`. Without a timestamp the event happened on send.
 * Returns an error when the result is absurd (before 2000, or more than a day after receipt).
 */
export function eventTime(
  receivedAtMs: number,
  timestampMs: number | undefined,
  sentAtMs: number | undefined,
): Instant {
  let ms: number;
  if (timestampMs === undefined) ms = receivedAtMs;
  else if (sentAtMs === undefined) ms = timestampMs;
  else ms = receivedAtMs - (sentAtMs - timestampMs);
  if (ms < MIN_EVENT_TIME_MS)
    return {
      error: `event time ${iso(ms)} is before ${iso(MIN_EVENT_TIME_MS)} (a clock that was never set?)`,
    };
  if (ms > receivedAtMs + MAX_FUTURE_SKEW_MS) {
    return { error: `event time ${iso(ms)} is more than a day after it was received (${iso(receivedAtMs)})` };
  }
  return { ms };
}

function iso(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}
