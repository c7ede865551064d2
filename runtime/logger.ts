import { Console } from "node:console";
import { LogFormatter, LogItem, Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import type {
  LogAttributes,
  LogItemExtraInput,
  UnformattedAttributes,
} from "@aws-lambda-powertools/logger/types";
import { currentCorrelationContext } from "./correlation-context.js";
import { RoutedLogStream } from "./log-output.js";
import { redact, redactionKeySet } from "./log-redaction.js";
import { isDebugSampled } from "./log-sampling.js";

/**
 * The structured logger of Observatory apps and functions. Built on @aws-lambda-powertools/logger
 * (its serialization, error formatting and X-Ray trace id handling, and its key names, so tools that
 * read Powertools logs read ours), with three things Powertools does not do our way:
 * - per-request fields (correlation_id, function_request_id, cold_start) come from AsyncLocalStorage,
 *   so concurrent requests in one process (the local stack) never see each other's IDs;
 * - debug sampling is decided per correlation ID (a whole request across services), not per invocation;
 * - configured keys are redacted at any depth.
 */

export type LogLevelName = "DEBUG" | "INFO" | "WARN" | "ERROR" | "CRITICAL";

/** Numeric thresholds, the same as Powertools' (so a level read from POWERTOOLS_LOG_LEVEL means the same). */
export const LOG_LEVEL_THRESHOLDS: Record<LogLevelName, number> = {
  DEBUG: 8,
  INFO: 12,
  WARN: 16,
  ERROR: 20,
  CRITICAL: 24,
};

export const DEFAULT_LOG_LEVEL: LogLevelName = "INFO";
export const UNKNOWN_SERVICE = "service_undefined";

export interface LoggerOptions {
  /** Service name; default OBSERVATORY_SERVICE, then POWERTOOLS_SERVICE_NAME. */
  service?: string;
  /** Stage (dev, prod...); default OBSERVATORY_STAGE. */
  stage?: string;
  /** Lowest level written; default OBSERVATORY_LOG_LEVEL, POWERTOOLS_LOG_LEVEL, LOG_LEVEL, then INFO. */
  level?: LogLevelName;
  /** Share of requests (by correlation ID) logged at DEBUG whatever `level` says; default OBSERVATORY_DEBUG_SAMPLE_RATE or 0. */
  debugSampleRate?: number;
  /** Keys redacted at any depth; default DEFAULT_REDACTED_KEYS plus OBSERVATORY_REDACT_KEYS (comma separated). */
  redactKeys?: readonly string[];
  /** Where lines go; default stdout, or the local log capture when one is active. */
  destination?: NodeJS.WritableStream;
  /** Keys added to every line of this logger. */
  attributes?: LogAttributes;
}

type Extra = LogAttributes | Error | undefined;

function envLevel(env: NodeJS.ProcessEnv): LogLevelName | undefined {
  const raw = (env.OBSERVATORY_LOG_LEVEL ?? env.POWERTOOLS_LOG_LEVEL ?? env.LOG_LEVEL)?.toUpperCase();
  if (raw === undefined || raw === "") return undefined;
  if (raw === "WARNING") return "WARN";
  if (raw in LOG_LEVEL_THRESHOLDS) return raw as LogLevelName;
  throw new Error(
    `log level ${JSON.stringify(raw)} is not one of ${Object.keys(LOG_LEVEL_THRESHOLDS).join(", ")}`,
  );
}

function envRate(env: NodeJS.ProcessEnv): number {
  const raw = env.OBSERVATORY_DEBUG_SAMPLE_RATE ?? env.POWERTOOLS_LOGGER_SAMPLE_RATE;
  if (raw === undefined || raw === "") return 0;
  const rate = Number(raw);
  if (!(rate >= 0 && rate <= 1))
    throw new Error(`debug sample rate must be a number from 0 to 1, got ${JSON.stringify(raw)}`);
  return rate;
}

/** Formats Powertools' attributes with our per-request fields taken from the correlation context. */
class ObservatoryLogFormatter extends LogFormatter {
  constructor(
    private readonly stage: string | undefined,
    private readonly redactKeys: ReadonlySet<string>,
  ) {
    super();
  }

  override formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const context = currentCorrelationContext();
    const base: LogAttributes = {
      level: attributes.logLevel,
      message: attributes.message,
      timestamp: this.formatTimestamp(attributes.timestamp),
      service: attributes.serviceName,
      stage: this.stage,
      correlation_id: context?.correlationId,
      xray_trace_id: context?.xrayTraceId ?? attributes.xRayTraceId,
      cold_start: context?.coldStart,
      function_name: context?.functionName ?? process.env.AWS_LAMBDA_FUNCTION_NAME,
      function_request_id: context?.functionRequestId,
    };
    const extra = redact(additional, this.redactKeys) as LogAttributes;
    return new LogItem({ attributes: base }).addAttributes(extra);
  }
}

export class Logger {
  readonly service: string;
  readonly level: LogLevelName;
  readonly debugSampleRate: number;
  readonly #threshold: number;
  readonly #powertools: PowertoolsLogger;
  readonly #bound: LogAttributes | undefined;

  constructor(options: LoggerOptions = {}, shared?: { powertools: PowertoolsLogger; bound: LogAttributes }) {
    const env = process.env;
    this.service =
      options.service ?? env.OBSERVATORY_SERVICE ?? env.POWERTOOLS_SERVICE_NAME ?? UNKNOWN_SERVICE;
    this.level = options.level ?? envLevel(env) ?? DEFAULT_LOG_LEVEL;
    if (!(this.level in LOG_LEVEL_THRESHOLDS))
      throw new Error(`unknown log level ${JSON.stringify(this.level)}`);
    this.debugSampleRate = options.debugSampleRate ?? envRate(env);
    this.#threshold = LOG_LEVEL_THRESHOLDS[this.level];
    if (shared) {
      this.#powertools = shared.powertools;
      this.#bound = shared.bound;
      return;
    }
    const extraRedact = (env.OBSERVATORY_REDACT_KEYS ?? "")
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean);
    const redactKeys = redactionKeySet([
      ...(options.redactKeys ?? ["password", "authorization", "token", "secret", "email"]),
      ...extraRedact,
    ]);
    // Powertools itself lets everything through; this class decides (level + per-request sampling).
    this.#powertools = new PowertoolsLogger({
      serviceName: this.service,
      logLevel: "DEBUG",
      logFormatter: new ObservatoryLogFormatter(options.stage ?? env.OBSERVATORY_STAGE, redactKeys),
    });
    const destination = options.destination ?? new RoutedLogStream();
    // Powertools prints through a Console it owns; pointing it at our stream keeps its serialization.
    (this.#powertools as unknown as { console: Console }).console = new Console({
      stdout: destination,
      stderr: destination,
    });
    this.#bound =
      options.attributes && Object.keys(options.attributes).length > 0
        ? { ...options.attributes }
        : undefined;
  }

  /** A logger writing to the same place with `attributes` added to every line (and the same level). */
  child(attributes: LogAttributes): Logger {
    return new Logger(
      { service: this.service, level: this.level, debugSampleRate: this.debugSampleRate },
      { powertools: this.#powertools, bound: { ...this.#bound, ...attributes } },
    );
  }

  /** Whether a line at `level` would be written now (debug also when this request is sampled). */
  isLevelEnabled(level: LogLevelName): boolean {
    if (LOG_LEVEL_THRESHOLDS[level] >= this.#threshold) return true;
    return (
      level === "DEBUG" && isDebugSampled(currentCorrelationContext()?.correlationId, this.debugSampleRate)
    );
  }

  debug(message: string, extra?: Extra): void {
    if (this.isLevelEnabled("DEBUG")) this.#powertools.debug(message, ...this.#extras(extra));
  }
  info(message: string, extra?: Extra): void {
    if (LOG_LEVEL_THRESHOLDS.INFO >= this.#threshold) this.#powertools.info(message, ...this.#extras(extra));
  }
  warn(message: string, extra?: Extra): void {
    if (LOG_LEVEL_THRESHOLDS.WARN >= this.#threshold) this.#powertools.warn(message, ...this.#extras(extra));
  }
  error(message: string, extra?: Extra): void {
    if (LOG_LEVEL_THRESHOLDS.ERROR >= this.#threshold)
      this.#powertools.error(message, ...this.#extras(extra));
  }
  critical(message: string, extra?: Extra): void {
    this.#powertools.critical(message, ...this.#extras(extra));
  }

  #extras(extra: Extra): LogItemExtraInput {
    if (extra instanceof Error)
      return this.#bound === undefined ? [extra] : [{ ...this.#bound, error: extra }];
    if (this.#bound === undefined) return extra === undefined ? [] : [extra];
    return extra === undefined ? [this.#bound] : [this.#bound, extra];
  }
}

/** A logger configured from the environment (and `options`). */
export function createLogger(options: LoggerOptions = {}): Logger {
  return new Logger(options);
}
