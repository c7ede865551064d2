import { randomBytes, randomUUID } from "node:crypto";
import { gzipSync } from "node:zlib";
import type {
  CloudWatchLogsDecodedData,
  CloudWatchLogsEvent,
  CloudWatchLogsLogEvent,
  Context,
} from "aws-lambda";
import { SUBSCRIPTION_FILTER_PREFIX } from "../contracts/logs-table.js";
import { captureLogLines } from "../runtime/log-output.js";

/**
 * Local stand-in for CloudWatch Logs + a subscription filter: lines written by local handlers are
 * buffered per log group and stream and handed to the log consumer in the exact delivery shape
 * (base64 of gzip of a DATA_MESSAGE), batched like CloudWatch does.
 */

/** CloudWatch Logs puts at most 10,000 events in a PutLogEvents batch; deliveries are smaller in practice. */
export const MAX_EVENTS_PER_DELIVERY = 1_000;
/** How long lines wait before delivery: CloudWatch delivers subscriptions within seconds. */
export const DELIVERY_INTERVAL_MS = 1_000;
/** The account id our local log groups pretend to belong to. */
export const LOCAL_ACCOUNT_ID = "000000000000";
export const LOCAL_SUBSCRIPTION_FILTER = "observatory-local";

/** Encodes a decoded delivery the way CloudWatch Logs sends it to a subscribed Lambda. */
export function encodeSubscriptionPayload(data: CloudWatchLogsDecodedData): CloudWatchLogsEvent {
  return { awslogs: { data: gzipSync(JSON.stringify(data)).toString("base64") } };
}

let eventCounter = 0n;
/** CloudWatch event ids are 56-digit decimal strings that sort by time; ours do too. */
export function logEventId(timestamp: number): string {
  eventCounter = (eventCounter + 1n) % 10n ** 20n;
  return `${String(timestamp).padStart(16, "0")}${String(eventCounter).padStart(20, "0")}`.padEnd(56, "0");
}

export interface LocalLogDeliveryOptions {
  /** The consumer: usually `(event) => consumeSubscription(event, deps)`. */
  deliver: (event: CloudWatchLogsEvent) => Promise<unknown>;
  intervalMs?: number;
  maxEventsPerDelivery?: number;
  /** Called when a delivery fails; the lines stay buffered and are delivered again on the next flush. */
  onError?: (error: unknown) => void;
}

export class LocalLogDelivery {
  readonly #buffers = new Map<
    string,
    { logGroup: string; logStream: string; subscriptionFilter: string; events: CloudWatchLogsLogEvent[] }
  >();
  readonly #options: Required<Omit<LocalLogDeliveryOptions, "onError">> &
    Pick<LocalLogDeliveryOptions, "onError">;
  readonly #timer: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();

  constructor(options: LocalLogDeliveryOptions) {
    this.#options = {
      intervalMs: DELIVERY_INTERVAL_MS,
      maxEventsPerDelivery: MAX_EVENTS_PER_DELIVERY,
      ...options,
    };
    this.#timer = setInterval(() => void this.flush(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /**
   * Buffers one line of `logGroup`/`logStream`. `subscriptionFilter` is the name the delivery carries
   * (LogCentralizer names its filters after the group's service; the consumer partitions by it).
   */
  write(
    logGroup: string,
    logStream: string,
    message: string,
    timestamp = Date.now(),
    subscriptionFilter = LOCAL_SUBSCRIPTION_FILTER,
  ): void {
    const key = `${logGroup}\n${logStream}`;
    let buffer = this.#buffers.get(key);
    if (!buffer) {
      buffer = { logGroup, logStream, subscriptionFilter, events: [] };
      this.#buffers.set(key, buffer);
    }
    buffer.events.push({ id: logEventId(timestamp), timestamp, message });
    if (buffer.events.length >= this.#options.maxEventsPerDelivery) void this.flush();
  }

  /** Delivers everything buffered (one delivery per stream and batch). Serialized: flushes never overlap. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#deliverAll());
    return this.#flushing;
  }

  async #deliverAll(): Promise<void> {
    for (const [key, buffer] of this.#buffers) {
      while (buffer.events.length > 0) {
        const batch = buffer.events.slice(0, this.#options.maxEventsPerDelivery);
        const event = encodeSubscriptionPayload({
          messageType: "DATA_MESSAGE",
          owner: LOCAL_ACCOUNT_ID,
          logGroup: buffer.logGroup,
          logStream: buffer.logStream,
          subscriptionFilters: [buffer.subscriptionFilter],
          logEvents: batch,
        });
        try {
          await this.#options.deliver(event);
        } catch (error) {
          // Keep the lines: the next flush delivers the same batch again (the consumer's keys make that idempotent).
          this.#options.onError?.(error);
          return;
        }
        buffer.events.splice(0, batch.length);
      }
      this.#buffers.delete(key);
    }
  }

  /** Stops the timer and delivers what is left. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}

type Handler<E, R> = (event: E, context: Context) => Promise<R>;

/** Configuration of one emulated Lambda function. */
export interface LocalFunctionOptions {
  functionName: string;
  /**
   * The service its lines belong to, named in the subscription filter as LogCentralizer does, so
   * that lines without a service of their own (START/END/REPORT) land in the same partition.
   */
  service?: string;
  memoryMb?: number;
}

/**
 * Runs `handler` the way Lambda would for logging: a Context with a fresh request id, START / END /
 * REPORT platform lines, and every logger line of the invocation written to `/aws/lambda/<name>`.
 */
export function asLocalLambda<E, R>(
  delivery: LocalLogDelivery,
  options: LocalFunctionOptions,
  handler: Handler<E, R>,
): (event: E) => Promise<R> {
  const logGroup = `/aws/lambda/${options.functionName}`;
  const now = new Date();
  // One stream per execution environment, named like Lambda's.
  const logStream = `${now.toISOString().slice(0, 10).replaceAll("-", "/")}/[$LATEST]${randomBytes(16).toString("hex")}`;
  const memoryMb = options.memoryMb ?? 128;
  const filter = options.service
    ? `${SUBSCRIPTION_FILTER_PREFIX}${options.service}`
    : LOCAL_SUBSCRIPTION_FILTER;
  const write = (line: string) => delivery.write(logGroup, logStream, line, Date.now(), filter);
  return async (event) => {
    const requestId = randomUUID();
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: options.functionName,
      functionVersion: "$LATEST",
      invokedFunctionArn: `arn:aws:lambda:us-east-1:${LOCAL_ACCOUNT_ID}:function:${options.functionName}`,
      memoryLimitInMB: String(memoryMb),
      awsRequestId: requestId,
      logGroupName: logGroup,
      logStreamName: logStream,
      getRemainingTimeInMillis: () => 30_000,
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    } satisfies Context;
    write(`START RequestId: ${requestId} Version: $LATEST`);
    const started = performance.now();
    try {
      return await captureLogLines(write, () => handler(event, context));
    } finally {
      const duration = performance.now() - started;
      const usedMb = Math.min(memoryMb, Math.round(process.memoryUsage().rss / 1024 / 1024));
      write(`END RequestId: ${requestId}`);
      write(
        `REPORT RequestId: ${requestId}\tDuration: ${duration.toFixed(2)} ms\tBilled Duration: ${Math.ceil(duration)} ms\tMemory Size: ${memoryMb} MB\tMax Memory Used: ${usedMb} MB\t`,
      );
    }
  };
}
