/**
 * The collector writes one JSON log line per request (runtime/logger.ts, top-level keys) carrying
 * these numeric fields. MetricPipeline turns them into CloudWatch metrics with log metric filters,
 * and alarms on the rejected-event ratio; rename a field here and both sides follow.
 */
export const COLLECTOR_LOG_FIELDS = {
  /** Events of the request written to the raw zone. */
  accepted: "accepted",
  /** Events of the request rejected (and quarantined); a whole unreadable body counts as one. */
  rejected: "rejected",
} as const;

/** The `message` of that per-request line (functions/collector/collector.ts). */
export const COLLECTOR_STORED_MESSAGE = "batch stored";
/** The `message` of a request refused as a whole (400/401/413/415): no counts, one body quarantined. */
export const COLLECTOR_REFUSED_MESSAGE = "batch refused";
