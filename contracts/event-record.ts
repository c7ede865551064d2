/**
 * One accepted event as the collector writes it to the raw zone (a line of gzip NDJSON).
 * Timestamps are ISO-8601 UTC strings with milliseconds. The compaction worker reads exactly this.
 */
export interface RawEventRecord {
  event_id: string;
  /** Conformed (lowercase snake_case) event name. */
  event: string;
  /** When it happened: clock-skew corrected when the client sent `sent_at`. */
  event_time: string;
  /** When the collector received the batch. */
  received_at: string;
  user_id: string | null;
  anonymous_id: string | null;
  correlation_id: string;
  service: string | null;
  stage: string | null;
  /** Conformed property keys (snake_case), values as sent. */
  properties: Record<string, unknown>;
  /** Client context plus enrichment (user agent, ip, request id, library). */
  context: Record<string, unknown>;
  /** Version of the declared schema the event was validated against, or null when undeclared. */
  schema_version: number | null;
  request_id: string;
}

/** One quarantined item: a rejected event, or a whole body that could not be read as a batch. */
export interface QuarantineRecord {
  quarantined_at: string;
  request_id: string;
  correlation_id: string;
  /** HTTP status the request was answered with. */
  status: number;
  /** Index of the event in the batch, or null for a whole-body rejection. */
  index: number | null;
  event_id: string | null;
  event: string | null;
  reasons: string[];
  /** The original event as sent (JSON), or the original body as text (base64 when not UTF-8). */
  payload: string;
  payload_encoding: "json" | "utf8" | "base64";
}
