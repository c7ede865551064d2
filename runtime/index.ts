// Public entry point of the app-side runtime library (`observatory/runtime`). No side effects on import.
export {
  CORRELATION_ATTRIBUTE,
  CORRELATION_FIELD,
  CORRELATION_HEADER,
  type CorrelationContext,
  correlationStorage,
  currentCorrelationContext,
  currentCorrelationId,
  runWithCorrelation,
} from "./correlation-context.js";
export { extractCorrelationId, validCorrelationId } from "./correlation-extract.js";
export { correlatedFetch } from "./correlation-fetch.js";
export {
  forEachRecordWithCorrelation,
  withCorrelation,
  withSqsRecordCorrelation,
} from "./correlation-handler.js";
export { withCorrelationAttributes } from "./correlation-messaging.js";
export { withCorrelationInput } from "./correlation-stepfunctions.js";
export { captureLogLines } from "./log-output.js";
export { DEFAULT_REDACTED_KEYS } from "./log-redaction.js";
export { createLogger, Logger, type LoggerOptions, type LogLevelName } from "./logger.js";
export {
  type DropReason,
  type EventMap,
  type Identity,
  type Properties,
  Tracker,
  TrackerError,
  type TrackerOptions,
  type TrackerStats,
  type TrackOptions,
} from "./tracker.js";
export { MAX_BATCH_BYTES, MAX_EVENT_BYTES, TRACKER_DEFAULTS } from "./tracker-options.js";
