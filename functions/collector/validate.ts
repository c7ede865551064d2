import { randomUUID } from "node:crypto";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsImport, { type FormatsPlugin } from "ajv-formats";
import type { EventSchema } from "../../contracts/event-schema.js";
import { type ContextLayer, fitsOnLayer, mergedContext } from "./batch-context.js";
import { conformKeys, conformName, isWellFormed, type JsonValue, type SizeBound } from "./conform.js";
import { EqualRunDetector } from "./equal-runs.js";
import { eventTime, type Instant, parseInstant } from "./event-time.js";
import {
  MAX_EVENT_BYTES,
  MAX_EVENT_ID_LENGTH,
  MAX_EVENT_NAME_LENGTH,
  MAX_IDENTITY_LENGTH,
} from "./limits.js";

// ajv-formats is CommonJS: Node's ESM loader hands over module.exports (the plugin), TypeScript
// expects `.default`; accept both so tsx, esbuild bundles and vitest agree.
const addFormats = ((addFormatsImport as unknown as { default?: FormatsPlugin }).default ??
  addFormatsImport) as FormatsPlugin;

/** An event that passed every check, conformed, with its instant resolved. */
export interface ValidEvent {
  eventId: string;
  event: string;
  eventTimeMs: number;
  userId: string | null;
  anonymousId: string | null;
  properties: Record<string, JsonValue>;
  /** The event's conformed context; with `contextLayer`, only its own members (the layer's go under them). */
  context: Record<string, JsonValue>;
  /** The batch's conformed context under `context` (batch-context.ts), when the two were not merged. */
  contextLayer?: ContextLayer | null;
  schemaVersion: number | null;
}

/** An accepted event is its own verdict (one object per event, not a wrapper around one). */
export type EventVerdict =
  | (ValidEvent & { ok: true })
  | { ok: false; eventId: string; event: string | null; errors: string[] };

/** The shape of one event of a batch (DESIGN.md "Collector HTTP API"); conform and time checks follow. */
export const EVENT_ENVELOPE = {
  type: "object",
  properties: {
    event: { type: "string", minLength: 1, maxLength: MAX_EVENT_NAME_LENGTH * 2 },
    properties: { type: "object" },
    context: { type: "object" },
    user_id: { type: ["string", "number"], minLength: 1, maxLength: MAX_IDENTITY_LENGTH },
    anonymous_id: { type: ["string", "number"], minLength: 1, maxLength: MAX_IDENTITY_LENGTH },
    event_id: { type: "string", minLength: 1, maxLength: MAX_EVENT_ID_LENGTH },
    timestamp: { type: ["string", "number"] },
    // Per-event send time, for clients that stamp each event; the batch's sent_at otherwise.
    sent_at: { type: ["string", "number"] },
  },
  required: ["event"],
  additionalProperties: false,
} as const;

/**
 * True for the envelope's fields: any other key is refused (additionalProperties: false). A switch on
 * literals rather than a Set: JSON.parse internalizes keys, so each case is a pointer comparison,
 * where Set.has hashes. A test holds it to EVENT_ENVELOPE's properties.
 */
export function isEnvelopeKey(key: string): boolean {
  switch (key) {
    case "event":
    case "properties":
    case "context":
    case "user_id":
    case "anonymous_id":
    case "event_id":
    case "timestamp":
    case "sent_at":
      return true;
    default:
      return false;
  }
}

function isPlainObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A string the envelope's bounds surely accept: UTF-16 length bounds the code points ajv counts. */
function fitsString(value: unknown, maxLength: number): boolean {
  return typeof value === "string" && value.length >= 1 && value.length <= maxLength;
}

/**
 * True only when EVENT_ENVELOPE surely holds, checked by hand: the common, valid event skips ajv's
 * generated validator (4% of the collector's CPU per event). Anything else - a doubt included, such as
 * a string longer in UTF-16 units than the limit - goes to ajv, which decides and words the errors,
 * so the verdicts are ajv's either way.
 */
export function surelyValidEnvelope(input: Record<string, unknown>): boolean {
  // for-in walks the object's enum cache without allocating a key array; an inherited enumerable key
  // (only a polluted prototype has one) just sends the event to ajv, which then decides.
  for (const key in input) if (!isEnvelopeKey(key)) return false;
  const { event, properties, context, user_id, anonymous_id, event_id, timestamp, sent_at } = input;
  return (
    fitsString(event, MAX_EVENT_NAME_LENGTH * 2) &&
    (properties === undefined || isPlainObject(properties)) &&
    (context === undefined || isPlainObject(context)) &&
    (user_id === undefined || typeof user_id === "number" || fitsString(user_id, MAX_IDENTITY_LENGTH)) &&
    (anonymous_id === undefined ||
      typeof anonymous_id === "number" ||
      fitsString(anonymous_id, MAX_IDENTITY_LENGTH)) &&
    (event_id === undefined || fitsString(event_id, MAX_EVENT_ID_LENGTH)) &&
    (timestamp === undefined || typeof timestamp === "string" || typeof timestamp === "number") &&
    (sent_at === undefined || typeof sent_at === "string" || typeof sent_at === "number")
  );
}

/** Upper bound of the JSON bytes of the envelope's bounded strings (6 bytes per char) plus punctuation. */
const ENVELOPE_MAX_JSON_BYTES =
  6 * (2 * MAX_EVENT_NAME_LENGTH + 2 * MAX_IDENTITY_LENGTH + MAX_EVENT_ID_LENGTH) + 256;

function instantLength(value: unknown): number {
  return typeof value === "string" ? 6 * value.length : 24;
}

function rejected(eventId: string, event: string | null, errors: string[]): EventVerdict {
  return { ok: false, eventId, event, errors };
}

/** user_id / anonymous_id as a string (numbers are kept as their decimal text), or null when absent. */
function identityOf(
  input: Record<string, unknown>,
  field: "user_id" | "anonymous_id",
  errors: string[],
): string | null {
  const value = input[field];
  if (value === undefined) return null;
  const text = String(value);
  if (!isWellFormed(text)) errors.push(`${field} is not valid Unicode`);
  return text;
}

function describeErrors(errors: ErrorObject[] | null | undefined, root: string): string[] {
  return (errors ?? []).map((e) => {
    const path = e.instancePath.replaceAll("/", ".");
    const where = root ? `${root}${path}` : path.slice(1);
    if (e.keyword === "additionalProperties") {
      return `${where || "event"}: unknown field ${JSON.stringify(e.params.additionalProperty)}`;
    }
    if (e.keyword === "required") return `${where || "event"}: ${e.params.missingProperty} is required`;
    if (e.keyword === "type")
      return `${where || "event"}: must be ${String(e.params.type).replaceAll(",", " or ")}`;
    return `${where || "event"}: ${e.message}`;
  });
}

/**
 * Validates and conforms events. Schemas are compiled once, when the validator is built (a Lambda
 * builds it once per cold start), and looked up by conformed event name.
 */
export class EventValidator {
  private readonly envelope: ValidateFunction;
  private readonly declared = new Map<string, { version: number; validate: ValidateFunction }>();
  private readonly size: SizeBound = { bytes: 0 };
  /** The last timestamp text and what it parsed to: a Tracker stamps its events by the millisecond, so runs of equal ones are common. */
  private lastTimestampText: string | undefined;
  private lastTimestamp: Instant | undefined;
  /**
   * The last context as sent that conformed without error, what it conformed to and the bytes it
   * added to the size bound. Consecutive events of a producer mostly carry equal contexts: an equal
   * one (same JSON) conforms to the same result, so it is not walked again, and handing out the same
   * object lets the line encoder see at once that the context did not change (enrich.ts).
   */
  private lastContextSent: Record<string, unknown> | undefined;
  private lastContext: Record<string, JsonValue> = {};
  private lastContextBytes = 0;
  /** As in the encoder: a batch whose contexts all differ (a server's mix of requests) pauses comparing. */
  private readonly contexts = new EqualRunDetector();

  constructor(schemas: readonly EventSchema[] = []) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    addFormats(ajv);
    this.envelope = ajv.compile(EVENT_ENVELOPE);
    for (const schema of schemas) {
      if (conformName(schema.event) !== schema.event) {
        throw new Error(
          `declared event ${JSON.stringify(schema.event)} is not snake_case; declare it as ${JSON.stringify(conformName(schema.event))}`,
        );
      }
      if (this.declared.has(schema.event))
        throw new Error(`event ${JSON.stringify(schema.event)} is declared twice`);
      this.declared.set(schema.event, { version: schema.version, validate: ajv.compile(schema.schema) });
    }
  }

  /**
   * `raw` is one element of the batch as parsed. `batchSentAt` is the batch's `sent_at`, parsed once
   * per batch; `receivedAtMs` the collector's clock. `bodyBytes` lets small bodies skip the exact
   * per-event size measure (no event can exceed them). `layer` is the batch's context conformed once
   * (batch-context.ts): the verdict is the one the event would get with that context merged into its own.
   */
  check(
    raw: unknown,
    batchSentAt: Instant | undefined,
    receivedAtMs: number,
    bodyBytes: number,
    layer?: ContextLayer,
  ): EventVerdict {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      const kind = raw === null ? "null" : Array.isArray(raw) ? "an array" : `a ${typeof raw}`;
      return {
        ok: false,
        eventId: randomUUID(),
        event: null,
        errors: [`event must be a JSON object, not ${kind}`],
      };
    }
    const input = raw as Record<string, unknown>;
    const eventId =
      typeof input.event_id === "string" && input.event_id.length > 0 ? input.event_id : randomUUID();
    const eventName = typeof input.event === "string" ? input.event : null;
    const conformedName = eventName === null ? "" : conformName(eventName);
    // Quarantine records name the event as the events table would (conformed), or as sent when that is empty.
    const eventLabel = eventName === null ? null : conformedName || eventName;
    if (!surelyValidEnvelope(input) && !this.envelope(input))
      return rejected(eventId, eventLabel, describeErrors(this.envelope.errors, ""));

    const errors: string[] = [];
    const userId = identityOf(input, "user_id", errors);
    const anonymousId = identityOf(input, "anonymous_id", errors);
    if (userId === null && anonymousId === null) errors.push("user_id or anonymous_id is required");

    const event = conformedName;
    if (event === "")
      errors.push(`event name ${JSON.stringify(eventName)} is empty after conforming to snake_case`);
    else if (event.length > MAX_EVENT_NAME_LENGTH)
      errors.push(
        `event name is ${event.length} characters after conforming; the limit is ${MAX_EVENT_NAME_LENGTH}`,
      );
    if (!isWellFormed(eventId)) errors.push("event_id is not valid Unicode");

    // Envelope strings are bounded by the envelope schema except the two instants; count those too.
    // One bound object per validator: check() is synchronous, so it is never shared between events.
    const size = this.size;
    size.bytes = ENVELOPE_MAX_JSON_BYTES + instantLength(input.timestamp) + instantLength(input.sent_at);
    const properties = conformKeys(
      (input.properties ?? {}) as Record<string, unknown>,
      "properties",
      errors,
      size,
    );
    const own = input.context as Record<string, unknown> | undefined;
    let context: Record<string, JsonValue>;
    let contextLayer: ContextLayer | null = null;
    if (layer === undefined) context = this.conformContext(own ?? {}, errors, size);
    else if (own === undefined) {
      context = layer.members;
      size.bytes += layer.boundBytes;
    } else {
      const errorsBefore = errors.length;
      const bytesBefore = size.bytes;
      context = this.conformContext(own, errors, size);
      if (fitsOnLayer(context, layer)) {
        contextLayer = layer;
        size.bytes += layer.boundBytes;
      } else {
        // An override or a collision: what the merge gives, errors and all.
        errors.length = errorsBefore;
        size.bytes = bytesBefore;
        context = this.conformContext(
          mergedContext(own, layer.sent) as Record<string, unknown>,
          errors,
          size,
        );
      }
    }
    // Exact size only when the bound says the event might be over the limit (and the body is big enough to hold one that is).
    if (size.bytes > MAX_EVENT_BYTES && bodyBytes > MAX_EVENT_BYTES) {
      let bytes: number;
      try {
        // Measured as merged with the batch's context, as the event is stored.
        const measured = layer === undefined ? input : { ...input, context: mergedContext(own, layer.sent) };
        bytes = Buffer.byteLength(JSON.stringify(measured));
      } catch {
        return rejected(eventId, eventLabel, ["event is nested too deeply to serialize"]);
      }
      if (bytes > MAX_EVENT_BYTES)
        return rejected(eventId, eventLabel, [
          `event is ${bytes} bytes; the limit is ${MAX_EVENT_BYTES} bytes per event`,
        ]);
    }

    const timestamp = this.timestampOf(input.timestamp);
    const sent = input.sent_at === undefined ? batchSentAt : parseInstant(input.sent_at, "sent_at");
    if (timestamp?.error) errors.push(timestamp.error);
    if (sent?.error) errors.push(sent.error);
    let eventTimeMs = receivedAtMs;
    if (!timestamp?.error && !sent?.error) {
      const resolved = eventTime(receivedAtMs, timestamp?.ms, sent?.ms);
      if (resolved.error !== undefined) errors.push(resolved.error);
      else eventTimeMs = resolved.ms;
    }

    const declared = event ? this.declared.get(event) : undefined;
    if (declared && errors.length === 0 && !declared.validate(properties)) {
      errors.push(
        ...describeErrors(declared.validate.errors, "properties").map(
          (e) => `${e} (schema ${event} v${declared.version})`,
        ),
      );
    }
    if (errors.length > 0) return rejected(eventId, eventLabel, errors);
    return {
      ok: true,
      eventId,
      event,
      eventTimeMs,
      userId,
      anonymousId,
      properties,
      context,
      contextLayer,
      schemaVersion: declared?.version ?? null,
    };
  }

  /** conformKeys of `sent` as context, reusing the last result when `sent` is the same JSON. */
  private conformContext(
    sent: Record<string, unknown>,
    errors: string[],
    size: SizeBound,
  ): Record<string, JsonValue> {
    if (
      this.contexts.equal(sent as Record<string, JsonValue>, this.lastContextSent as JsonValue | undefined)
    ) {
      size.bytes += this.lastContextBytes;
      return this.lastContext;
    }
    const bytesBefore = size.bytes;
    const errorsBefore = errors.length;
    const context = conformKeys(sent, "context", errors, size);
    // A context with errors is not reused: its errors must be reported for every event that has them.
    if (errors.length === errorsBefore) {
      this.lastContextSent = sent;
      this.lastContext = context;
      this.lastContextBytes = size.bytes - bytesBefore;
    } else {
      this.lastContextSent = undefined;
    }
    return context;
  }

  /** `timestamp` parsed, reusing the last result when the text is the same (an Instant is never changed). */
  private timestampOf(value: unknown): Instant | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "string") return parseInstant(value, "timestamp");
    if (value !== this.lastTimestampText) {
      this.lastTimestamp = parseInstant(value, "timestamp");
      this.lastTimestampText = value;
    }
    return this.lastTimestamp;
  }
}
