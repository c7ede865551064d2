/**
 * Options, limits and public types of the Tracker, with their defaults in one place.
 * Every limit is a named constant with the reason for its value beside it.
 */

/** The collector rejects an event over 32 KiB (DESIGN.md contract), so a bigger one is dropped here, never sent. */
export const MAX_EVENT_BYTES = 32 * 1024;
/** The collector refuses a batch `context` larger than this (functions/collector/limits.ts: it is copied onto every event). */
export const MAX_BATCH_CONTEXT_BYTES = 1024;
/** The collector accepts 1 MiB bodies and API Gateway payloads are limited; ~480 KiB leaves room for padding and headers. */
export const MAX_BATCH_BYTES = 480 * 1024;
/** Bytes of `{"batch":[` + `],"sent_at":"2026-01-01T00:00:00.000Z"}` around the events of a batch. */
export const BATCH_ENVELOPE_BYTES = `{"batch":[],"sent_at":"${new Date(0).toISOString()}"}`.length;
/** A Retry-After longer than this is not waited for: a Lambda invocation cannot sit frozen for minutes. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 30_000;
/**
 * gzip level 1: on a full batch of realistic events level 6 saves only 6-7% more bytes for 1.4-2.7x the
 * CPU (bench/tracker.bench.ts, part 4). Compression runs on libuv's thread pool, not the app's thread.
 */
export const GZIP_LEVEL = 1;
/**
 * Output chunk of the batch's gzip. Node's default (16 KiB) makes a full batch's ~70 KB of output five
 * round trips between the thread pool and the app's thread; 128 KiB makes it one: ~0.2 ms less CPU per
 * full batch (docs/benchmarks/tracker.md).
 */
export const GZIP_CHUNK_BYTES = 128 * 1024;

export interface TrackerOptions {
  /** Collector base URL, e.g. `http://127.0.0.1:4000` or the MetricPipeline's API URL. Batches go to `${endpoint}/v1/batch`. */
  endpoint: string;
  /** Sent as the `x-api-key` header. */
  apiKey: string;
  /** Send a batch once it holds this many events (or MAX_BATCH_BYTES, whichever comes first). Default 3000. */
  flushAt?: number;
  /** Send whatever is queued this many ms after the first event arrived in an empty queue. Default 5000. */
  flushInterval?: number;
  /** Most events waiting to be sent (not counting batches in flight); beyond it new events are dropped. Default 10000. */
  maxQueueSize?: number;
  /** Most bytes of serialized events waiting to be sent; beyond it new events are dropped. Default 16 MiB. */
  maxQueueBytes?: number;
  /** Batches sent at the same time. More overlaps gzip, network and server time; fewer is gentler. Default 4. */
  maxConcurrentRequests?: number;
  /** Retries of one batch after its first attempt (network error, 5xx, 429). Default 5. */
  maxRetries?: number;
  /** First backoff ceiling in ms; doubles per retry, with full jitter. Default 100. */
  retryBaseDelayMs?: number;
  /** Backoff ceiling never exceeds this (ms). Default 10000. */
  retryMaxDelayMs?: number;
  /** A Retry-After asking for longer than this (ms) ends the retries of that batch. Default 30000. */
  maxRetryAfterMs?: number;
  /** Abort one request after this many ms (then retried as a network error). Default 10000. */
  requestTimeoutMs?: number;
  /** `context.service` of every event. Default `process.env.OBSERVATORY_SERVICE`. */
  service?: string;
  /** `context.stage` of every event. Default `process.env.OBSERVATORY_STAGE`. */
  stage?: string;
  /** Called for every event lost or refused (never throws into the Tracker). Default: a warning on stderr, once per reason. */
  onError?: (error: TrackerError) => void;
}

/** The options with every default filled in. */
export type ResolvedTrackerOptions = Required<Omit<TrackerOptions, "service" | "stage" | "onError">> &
  Pick<TrackerOptions, "service" | "stage" | "onError">;

export const TRACKER_DEFAULTS = {
  // Typical events (~180-230 bytes: their shared context goes once per batch) fill MAX_BATCH_BYTES at
  // ~2,100-2,700: so by default batches fill by bytes. Fewer, larger requests mean fewer raw objects to
  // compact and less per-request work at the collector (2,000 cut realistic batches at 2,000 events:
  // 7% more CPU per event end to end, docs/benchmarks/tracker.md "Fifth pass").
  flushAt: 3_000,
  flushInterval: 5_000,
  maxQueueSize: 10_000,
  maxQueueBytes: 16 * 1024 * 1024,
  maxConcurrentRequests: 4,
  maxRetries: 5,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 10_000,
  maxRetryAfterMs: DEFAULT_MAX_RETRY_AFTER_MS,
  requestTimeoutMs: 10_000,
} as const satisfies Partial<TrackerOptions>;

/** Validates the options (a wrong option is a programming error: this throws, unlike `track()`). */
export function resolveTrackerOptions(options: TrackerOptions): ResolvedTrackerOptions {
  if (options === null || typeof options !== "object") {
    throw new TypeError("new Tracker(options): options must be an object with at least { endpoint, apiKey }");
  }
  if (!/^https?:$/.test(parsedProtocol(options.endpoint))) {
    throw new TypeError(
      `Tracker endpoint must be an absolute http(s) URL such as http://127.0.0.1:4000, got ${JSON.stringify(options.endpoint)}`,
    );
  }
  if (typeof options.apiKey !== "string" || options.apiKey.length === 0) {
    throw new TypeError("Tracker apiKey must be a non-empty string (the collector's x-api-key)");
  }
  const resolved = { ...TRACKER_DEFAULTS, ...withoutUndefined(options) } as ResolvedTrackerOptions;
  for (const key of [
    "flushAt",
    "maxQueueSize",
    "maxQueueBytes",
    "maxConcurrentRequests",
    "requestTimeoutMs",
  ] as const) {
    positiveInteger(key, resolved[key]);
  }
  for (const key of [
    "flushInterval",
    "maxRetries",
    "retryBaseDelayMs",
    "retryMaxDelayMs",
    "maxRetryAfterMs",
  ] as const) {
    nonNegativeNumber(key, resolved[key]);
  }
  resolved.service ??= process.env.OBSERVATORY_SERVICE || undefined;
  resolved.stage ??= process.env.OBSERVATORY_STAGE || undefined;
  return resolved;
}

function parsedProtocol(endpoint: unknown): string {
  try {
    return new URL(String(endpoint)).protocol;
  } catch {
    return "";
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`Tracker option ${name} must be a positive integer, got ${String(value)}`);
  }
}

function nonNegativeNumber(name: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`Tracker option ${name} must be a finite number >= 0, got ${String(value)}`);
  }
}

/** Properties of one event: any JSON-serializable object. */
export type Properties = Record<string, unknown>;

/** Map of event name to its properties' type, to type-check `track()` calls (optional). */
export type EventMap = Record<string, Properties>;

/** Who did it: a user ID, an anonymous ID, or both. Passing neither does not compile. */
export type Identity = { userId: string; anonymousId?: string } | { userId?: string; anonymousId: string };

export type TrackOptions = Identity & {
  /** When it happened: Date, ISO-8601 string or epoch ms. Default: now. */
  timestamp?: Date | string | number;
  /** Default: the current request's ID (runtime/correlation-context.ts), if any. */
  correlationId?: string;
  /** Extra context merged over the Tracker's (library, service, stage). */
  context?: Record<string, unknown>;
};

/** Why events were dropped (counted in `stats().dropped`). */
export type DropReason =
  /** track() called with a missing name, missing identity, or properties that are not an object. */
  | "invalid"
  /** properties could not be turned into JSON (a throwing toJSON, say). */
  | "unserializable"
  /** over MAX_EVENT_BYTES once serialized. */
  | "oversize"
  /** the queue was at maxQueueSize or maxQueueBytes: the new event is dropped. */
  | "queue_full"
  /** track() after close(). */
  | "closed"
  /** the batch still failed after maxRetries (network, 5xx, 429) or Retry-After asked for too long. */
  | "retries_exhausted";

export const DROP_REASONS: readonly DropReason[] = [
  "invalid",
  "unserializable",
  "oversize",
  "queue_full",
  "closed",
  "retries_exhausted",
];

export interface TrackerStats {
  /** Events accepted into the queue by track(). */
  enqueued: number;
  /** Events waiting in the queue (not yet in a request). */
  queued: number;
  /** Events in batches being sent, or waiting to be retried. */
  inFlight: number;
  /** Events the collector gave a final answer for (2xx or a non-retryable 4xx). */
  sent: number;
  /** Events the collector accepted. */
  accepted: number;
  /** Events the collector refused (per event in a 2xx answer, or whole batch on a 4xx). */
  rejected: number;
  /** Events lost, by reason. */
  dropped: Record<DropReason, number>;
  /** HTTP requests made, retries included. */
  requests: number;
  /** Requests that were retries. */
  retries: number;
}

/** One rejection the collector reported for an event of a 2xx batch. */
export interface RejectedEvent {
  index: number;
  event_id?: string;
  errors: string[];
}

/** What `onError` receives: which events were lost or refused, how many, and why. */
export class TrackerError extends Error {
  override readonly name = "TrackerError";
  constructor(
    message: string,
    /** `dropped`: lost before or while sending. `rejected`: the collector refused them. */
    readonly kind: "dropped" | "rejected",
    /** Number of events concerned. */
    readonly count: number,
    readonly reason?: DropReason,
    /** HTTP status, when the collector answered. */
    readonly status?: number,
    /** The collector's per-event rejections, when it gave them. */
    readonly rejected?: RejectedEvent[],
  ) {
    super(message);
  }
}
