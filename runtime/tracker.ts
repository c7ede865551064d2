/**
 * Tracker: the app-side client of the collector. `track()` serializes the event, puts it in a bounded
 * queue and returns (it never throws and never waits); batches go out gzipped to `${endpoint}/v1/batch`
 * with retries, and `flush()` / `close()` wait until everything tracked before them has a final answer.
 *
 *   const tracker = new Tracker({ endpoint: "http://127.0.0.1:4000", apiKey: "local-dev-key" });
 *   tracker.track("search_made", { query, n_results }, { userId });
 *   await tracker.flush(); // e.g. at the end of a Lambda invocation
 */
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import { BatchQueue, type SealedBatch } from "./batch-queue.js";
import { currentCorrelationId } from "./correlation-context.js";
import { parseRetryAfterMs, retryDelayMs, verdictForStatus } from "./retry-policy.js";
import { EventSerializer, LIBRARY_NAME, LIBRARY_VERSION } from "./tracker-event.js";
import {
  DROP_REASONS,
  type DropReason,
  type EventMap,
  GZIP_CHUNK_BYTES,
  GZIP_LEVEL,
  MAX_BATCH_BYTES,
  MAX_BATCH_CONTEXT_BYTES,
  type Properties,
  type RejectedEvent,
  type ResolvedTrackerOptions,
  resolveTrackerOptions,
  TrackerError,
  type TrackerOptions,
  type TrackerStats,
  type TrackOptions,
} from "./tracker-options.js";
import { BatchTransport, TransportError } from "./tracker-transport.js";

const gzip = promisify(gzipCallback);
const USER_AGENT = `${LIBRARY_NAME}/${LIBRARY_VERSION} node/${process.versions.node}`;
/** How much of an error response body goes into an error message. */
const ERROR_BODY_PREVIEW_CHARS = 300;

/** The answer to one request, reduced to what decides the batch's fate. */
type Attempt =
  | { verdict: "delivered"; status: number; accepted: number; rejected: RejectedEvent[] }
  | { verdict: "rejected"; status: number; message: string }
  | { verdict: "retry"; status?: number; retryAfterMs?: number; message: string };

export class Tracker<Events extends EventMap = EventMap> {
  private readonly options: ResolvedTrackerOptions;
  private readonly transport: BatchTransport;
  private readonly serializer: EventSerializer;
  private readonly queue: BatchQueue;
  private readonly inFlight = new Set<SealedBatch>();
  private readonly counters = {
    enqueued: 0,
    inFlight: 0,
    sent: 0,
    accepted: 0,
    rejected: 0,
    requests: 0,
    retries: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>,
  };
  private readonly warned = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private pumpScheduled = false;
  private closed = false;

  constructor(options: TrackerOptions) {
    this.options = resolveTrackerOptions(options);
    this.transport = new BatchTransport(
      new URL("v1/batch", withTrailingSlash(this.options.endpoint)).toString(),
      this.options.maxConcurrentRequests,
    );
    this.serializer = new EventSerializer(this.options.service, this.options.stage);
    // Every batch carries them: a context the collector would refuse (400) would lose every event.
    const contextBytes = Buffer.byteLength(this.serializer.batchContextJson);
    if (contextBytes > MAX_BATCH_CONTEXT_BYTES) {
      throw new TypeError(
        `Tracker service and stage make a batch context of ${contextBytes} bytes; the collector accepts at most ${MAX_BATCH_CONTEXT_BYTES}: use shorter names`,
      );
    }
    this.queue = new BatchQueue(
      {
        flushAt: this.options.flushAt,
        maxBatchBytes: MAX_BATCH_BYTES,
        maxQueueSize: this.options.maxQueueSize,
        maxQueueBytes: this.options.maxQueueBytes,
      },
      this.serializer.batchContextJson,
    );
  }

  /**
   * Queues one event. Never throws, never waits: a bad call, a full queue or a closed tracker drops the
   * event, counts it in `stats().dropped` and reports it to `onError`.
   */
  track<Name extends keyof Events & string>(
    event: Name,
    properties: Events[Name] | undefined,
    options: TrackOptions,
  ): void;
  track(event: string, properties: Properties | undefined, options: TrackOptions): void {
    try {
      if (this.closed) {
        this.drop("closed", 1, `track("${String(event)}") after close(): event dropped`);
        return;
      }
      const serialized = this.serializer.serialize(event, properties, options, currentCorrelationId());
      if (!serialized.ok) {
        this.drop(serialized.reason, 1, serialized.message);
        return;
      }
      const wasEmpty = this.queue.queuedEvents === 0;
      if (!this.queue.add(serialized.json, serialized.correlationId)) {
        this.drop(
          "queue_full",
          1,
          `queue full (${this.queue.queuedEvents} events, ${this.queue.queuedBytes} bytes): newest event "${event}" dropped`,
        );
        return;
      }
      this.counters.enqueued++;
      if (this.queue.readyCount > 0) this.schedulePump();
      else if (wasEmpty) this.startFlushTimer();
    } catch (error) {
      // Last resort: nothing in track() should throw, but a bug here must not reach the app.
      this.drop(
        "invalid",
        1,
        `track() failed unexpectedly: ${error instanceof Error ? error.message : typeof error}`,
      );
    }
  }

  /** Sends everything tracked before this call and waits until each batch of it has a final outcome (also in-flight ones). */
  async flush(): Promise<void> {
    this.clearFlushTimer();
    this.queue.sealAll();
    const waits = [...this.queue.pending(), ...this.inFlight].map((batch) => batch.done);
    this.pump();
    await Promise.all(waits);
  }

  /** Flushes, stops the timer and refuses (and counts) later track() calls. Safe to call more than once. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    this.clearFlushTimer();
    this.transport.close();
  }

  stats(): TrackerStats {
    const { dropped, ...counters } = this.counters;
    return { ...counters, queued: this.queue.queuedEvents, dropped: { ...dropped } };
  }

  private startFlushTimer(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.queue.sealAll();
      this.pump();
    }, this.options.flushInterval);
    // An idle flush timer must not keep a process (or a finishing Lambda) alive; flush()/close() do the waiting.
    this.flushTimer.unref();
  }

  private clearFlushTimer(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
  }

  /** Defers starting requests to the next turn of the loop, so track() stays O(1). */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Starts sealed batches while request slots are free. */
  private pump(): void {
    while (this.inFlight.size < this.options.maxConcurrentRequests) {
      const batch = this.queue.takeReady();
      if (batch === undefined) break;
      this.inFlight.add(batch);
      this.counters.inFlight += batch.count;
      void this.deliver(batch)
        .catch((error: unknown) => {
          this.drop("retries_exhausted", batch.count, `batch lost to an unexpected error: ${String(error)}`);
        })
        .finally(() => {
          this.inFlight.delete(batch);
          this.counters.inFlight -= batch.count;
          batch.finish();
          this.pump();
        });
    }
    // Events still queued but not sealed: make sure time will send them.
    if (this.queue.queuedEvents > 0 && this.queue.readyCount === 0) this.startFlushTimer();
  }

  /** Sends one batch until it is delivered, refused, or out of retries. The same event_ids go out on every attempt. */
  private async deliver(batch: SealedBatch): Promise<void> {
    const count = batch.count;
    for (let retry = 0; ; retry++) {
      const attempt = await this.attempt(batch);
      if (attempt.verdict === "delivered") {
        this.counters.sent += count;
        this.counters.accepted += attempt.accepted;
        if (attempt.rejected.length > 0) {
          this.counters.rejected += attempt.rejected.length;
          this.report(
            new TrackerError(
              `collector rejected ${attempt.rejected.length} of ${count} events: ${attempt.rejected
                .slice(0, 3)
                .map((r) => `#${r.index} ${r.errors.join("; ")}`)
                .join(" | ")}`,
              "rejected",
              attempt.rejected.length,
              undefined,
              attempt.status,
              attempt.rejected,
            ),
          );
        }
        return;
      }
      if (attempt.verdict === "rejected") {
        this.counters.sent += count;
        this.counters.rejected += count;
        this.report(
          new TrackerError(
            `collector refused a batch of ${count} events with ${attempt.status} (not retried): ${attempt.message}`,
            "rejected",
            count,
            undefined,
            attempt.status,
          ),
        );
        return;
      }
      const giveUp =
        retry >= this.options.maxRetries
          ? `after ${retry + 1} attempts`
          : (attempt.retryAfterMs ?? 0) > this.options.maxRetryAfterMs
            ? `Retry-After of ${attempt.retryAfterMs} ms exceeds maxRetryAfterMs ${this.options.maxRetryAfterMs}`
            : undefined;
      if (giveUp !== undefined) {
        this.drop(
          "retries_exhausted",
          count,
          `batch of ${count} events not delivered ${giveUp}: ${attempt.message}`,
          attempt.status,
        );
        return;
      }
      this.counters.retries++;
      // A ref'd timer on purpose: this batch is accepted work, and the process should not exit before it is retried.
      await sleep(retryDelayMs(retry, attempt.retryAfterMs, this.options));
    }
  }

  /** One HTTP request. sent_at is stamped per attempt: the collector corrects clock skew with it. */
  private async attempt(batch: SealedBatch): Promise<Attempt> {
    const body = await gzip(batch.body(new Date().toISOString()), {
      level: GZIP_LEVEL,
      chunkSize: GZIP_CHUNK_BYTES,
    });
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "content-encoding": "gzip",
      "x-api-key": this.options.apiKey,
      "user-agent": USER_AGENT,
    };
    if (batch.correlationId !== "") headers["x-correlation-id"] = batch.correlationId;
    this.counters.requests++;
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      ({ status, text, retryAfter } = await this.transport.post(
        headers,
        body,
        this.options.requestTimeoutMs,
      ));
    } catch (error) {
      return { verdict: "retry", message: `request failed: ${describeRequestError(error)}` };
    }
    const verdict = verdictForStatus(status);
    if (verdict === "delivered") {
      const answer = parseJson(text) as { accepted?: unknown; rejected?: unknown } | undefined;
      const rejected = Array.isArray(answer?.rejected) ? (answer.rejected as RejectedEvent[]) : [];
      const accepted = typeof answer?.accepted === "number" ? answer.accepted : batch.count - rejected.length;
      return { verdict, status, accepted, rejected };
    }
    const message = `HTTP ${status}: ${text.slice(0, ERROR_BODY_PREVIEW_CHARS)}`;
    if (verdict === "rejected") return { verdict, status, message };
    return { verdict, status, retryAfterMs: parseRetryAfterMs(retryAfter), message };
  }

  private drop(reason: DropReason, count: number, message: string, status?: number): void {
    this.counters.dropped[reason] += count;
    // An overloaded app drops on every call: without onError, skip building an Error nobody will see.
    if (this.options.onError === undefined && this.warned.has(`dropped:${reason}`)) return;
    this.report(new TrackerError(message, "dropped", count, reason, status));
  }

  private report(error: TrackerError): void {
    try {
      if (this.options.onError !== undefined) {
        this.options.onError(error);
        return;
      }
      // Default: one line per kind of trouble, so a dead collector does not flood stderr; stats() counts all.
      const kind = `${error.kind}:${error.reason ?? error.status ?? ""}`;
      if (this.warned.has(kind)) return;
      this.warned.add(kind);
      process.emitWarning(
        `${error.message} (further ones are only counted in tracker.stats())`,
        "TrackerWarning",
      );
    } catch {
      // A throwing onError must not break track() or delivery.
    }
  }
}

function withTrailingSlash(url: string): string {
  return url.endsWith("/") ? url : `${url}/`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The error's message, with the socket error code (ECONNREFUSED, ETIMEDOUT, ...) when the message lacks it. */
function describeRequestError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = error instanceof TransportError ? error.code : undefined;
  return code === undefined || error.message.includes(code) ? error.message : `${error.message} (${code})`;
}

export type {
  DropReason,
  EventMap,
  Identity,
  Properties,
  TrackerOptions,
  TrackerStats,
  TrackOptions,
} from "./tracker-options.js";
export { TrackerError } from "./tracker-options.js";
