/**
 * Turns one `track()` call into the JSON of one collector Event (DESIGN.md, "Collector HTTP API"):
 * `{event, properties, user_id?, anonymous_id?, event_id, timestamp, context?}`.
 *
 * What is the same for every event of this Tracker (`library`, and `service`/`stage` when configured)
 * is sent once per batch as the batch's `context`, which the collector merges under each event's own
 * (docs/collector.md), instead of in every event: ~70 of a typical event's ~250 bytes, ~40-60% more
 * events per 480 KiB batch and less to serialize, compress and parse on both sides. An event's own
 * context holds only what the caller gave (`options.context`, the correlation ID); none, no member.
 *
 * Serializing at track() time snapshots the properties (a caller mutating its object afterwards changes
 * nothing), gives the exact byte size for the 32 KiB and batch limits, and lets a batch be assembled
 * by joining strings. Hot path: plain string concatenation around JSON.stringify, no replacer (a
 * replacer makes stringify several times slower); values JSON.stringify cannot take go through
 * `toJsonSafe` only when the fast path throws.
 */
import { randomUUID } from "node:crypto";
import { validCorrelationId } from "./correlation-extract.js";
import { type DropReason, MAX_EVENT_BYTES, type TrackOptions } from "./tracker-options.js";

export const LIBRARY_NAME = "observatory-tracker";
export const LIBRARY_VERSION = "0.1.0";
/** Deeper than this, values are replaced by a marker in the fallback path (a cycle-free object this deep is a bug). */
const MAX_SAFE_DEPTH = 64;

export type SerializedEvent = {
  ok: true;
  json: string;
  /** The correlation ID usable as the x-correlation-id header, or "" when there is none. */
  correlationId: string;
};
export type RefusedEvent = { ok: false; reason: DropReason; message: string };

export class EventSerializer {
  /** The batch's `context`: `{"library":{...},"service":...,"stage":...}`, built once. */
  readonly batchContextJson: string;
  /**
   * What the collector adds to an event when it merges the batch's context in (at most the context
   * and its member name): counted against the per-event limit here, so an event the Tracker sends is
   * never over it at the collector.
   */
  private readonly batchContextBytes: number;
  private lastMs = -1;
  private lastIso = "";

  constructor(service: string | undefined, stage: string | undefined) {
    const batchContext: Record<string, unknown> = {
      library: { name: LIBRARY_NAME, version: LIBRARY_VERSION },
    };
    if (service !== undefined) batchContext.service = service;
    if (stage !== undefined) batchContext.stage = stage;
    this.batchContextJson = JSON.stringify(batchContext);
    this.batchContextBytes = Buffer.byteLength(`,"context":${this.batchContextJson}`);
  }

  serialize(
    event: unknown,
    properties: unknown,
    options: TrackOptions | undefined,
    ambientCorrelationId: string | undefined,
  ): SerializedEvent | RefusedEvent {
    if (typeof event !== "string" || event.trim() === "") {
      return refuse("invalid", `event name must be a non-empty string, got ${describe(event)}`);
    }
    if (options === null || typeof options !== "object") {
      return refuse("invalid", `track("${event}"): options with userId or anonymousId are required`);
    }
    const userId = identity(options.userId);
    const anonymousId = identity(options.anonymousId);
    if (userId === undefined && anonymousId === undefined) {
      return refuse("invalid", `track("${event}"): userId or anonymousId must be a non-empty string`);
    }
    if (
      properties !== undefined &&
      (properties === null || typeof properties !== "object" || Array.isArray(properties))
    ) {
      return refuse(
        "invalid",
        `track("${event}"): properties must be an object, got ${describe(properties)}`,
      );
    }
    const timestamp = this.timestampJson(options.timestamp);
    if (timestamp === undefined) {
      return refuse(
        "invalid",
        `track("${event}"): timestamp must be a valid Date, ISO-8601 string or epoch ms`,
      );
    }
    const given = options.correlationId ?? ambientCorrelationId;
    // Only an ID that is valid as a header (the logger's rule) groups the batch; any string still goes in context.
    const correlationId = validCorrelationId(given) ?? "";

    let propertiesJson: string | undefined;
    let contextJson: string | undefined = "";
    try {
      propertiesJson = properties === undefined ? "{}" : JSON.stringify(properties);
      contextJson = this.contextJson(options.context, given);
    } catch {
      // BigInt, cycles: retry through the tolerant copy (slow, but only for such values).
      try {
        propertiesJson = properties === undefined ? "{}" : JSON.stringify(toJsonSafe(properties));
        contextJson = this.contextJson(
          toJsonSafe(options.context) as Record<string, unknown> | undefined,
          given,
        );
      } catch (error) {
        return refuse(
          "unserializable",
          `track("${event}"): properties cannot be serialized: ${String(error)}`,
        );
      }
    }
    if (propertiesJson === undefined || propertiesJson[0] !== "{") {
      return refuse("unserializable", `track("${event}"): properties did not serialize to a JSON object`);
    }

    let json = `{"event":${JSON.stringify(event)},"properties":${propertiesJson}`;
    if (userId !== undefined) json += `,"user_id":${JSON.stringify(userId)}`;
    if (anonymousId !== undefined) json += `,"anonymous_id":${JSON.stringify(anonymousId)}`;
    json += `,"event_id":"${randomUUID()}","timestamp":${timestamp}`;
    json += contextJson === undefined || contextJson === "" ? "}" : `,"context":${contextJson}}`;

    // UTF-8 takes at most 3 bytes per UTF-16 unit: only an event that long can be over the limit, so only it is measured.
    const limit = MAX_EVENT_BYTES - this.batchContextBytes;
    if (json.length * 3 > limit) {
      const bytes = Buffer.byteLength(json, "utf8");
      if (bytes > limit) {
        return refuse(
          "oversize",
          `track("${event}"): event is ${bytes} bytes (${bytes + this.batchContextBytes} with the batch context the collector merges in), over the ${MAX_EVENT_BYTES}-byte limit`,
        );
      }
    }
    return { ok: true, json, correlationId };
  }

  /** The event's own context as JSON, or "" when it has none (the batch's context is all it gets). */
  private contextJson(context: Record<string, unknown> | undefined, correlationId: unknown): string {
    if (context === undefined || context === null || typeof context !== "object") {
      return typeof correlationId === "string" ? `{"correlation_id":${JSON.stringify(correlationId)}}` : "";
    }
    if (typeof correlationId !== "string") return JSON.stringify(context);
    return JSON.stringify({ ...context, correlation_id: correlationId });
  }

  /** Timestamp as a JSON value; undefined when invalid. Now is cached per millisecond (toISOString is the costliest step of a call). */
  private timestampJson(value: unknown): string | undefined {
    if (value === undefined) {
      const now = Date.now();
      if (now !== this.lastMs) {
        this.lastMs = now;
        this.lastIso = `"${new Date(now).toISOString()}"`;
      }
      return this.lastIso;
    }
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : `"${value.toISOString()}"`;
    if (typeof value === "number") return Number.isFinite(value) ? String(value) : undefined;
    if (typeof value === "string") return Number.isNaN(Date.parse(value)) ? undefined : JSON.stringify(value);
    return undefined;
  }
}

function identity(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : value;
  // Numeric IDs straight from a database are common in JavaScript callers; they are sent as strings.
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

function refuse(reason: DropReason, message: string): RefusedEvent {
  return { ok: false, reason, message };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? JSON.stringify(value) : typeof value;
}

/**
 * A copy of `value` that JSON.stringify accepts: BigInt as its decimal string, a reference back to an
 * ancestor as "[Circular]", below MAX_SAFE_DEPTH as "[Too deep]". Shared (non-cyclic) references are kept.
 */
export function toJsonSafe(value: unknown, ancestors: object[] = []): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return value;
  if (ancestors.includes(value)) return "[Circular]";
  if (ancestors.length >= MAX_SAFE_DEPTH) return "[Too deep]";
  const withToJson = value as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === "function") return toJsonSafe(withToJson.toJSON(), ancestors);
  ancestors.push(value);
  try {
    if (Array.isArray(value)) return value.map((item) => toJsonSafe(item, ancestors));
    // Null prototype: an own "__proto__" key (JSON.parse makes those) stays a plain key, not a prototype.
    const copy: Record<string, unknown> = Object.create(null);
    for (const [key, item] of Object.entries(value)) copy[key] = toJsonSafe(item, ancestors);
    return copy;
  } finally {
    ancestors.pop();
  }
}
