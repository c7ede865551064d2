import type { QuarantineRecord, RawEventRecord } from "../../contracts/event-record.js";
import { validCorrelationId } from "../../runtime/correlation-extract.js";
import type { ContextLayer } from "./batch-context.js";
import type { JsonValue } from "./conform.js";
import { EqualRunDetector } from "./equal-runs.js";
import { isoUtc } from "./iso-time.js";
import type { ValidEvent } from "./validate.js";

/** What the collector knows about the request, added to every event of its batch. */
export interface RequestFacts {
  receivedAt: Date;
  /** `receivedAt` as ISO-8601, formatted once per request rather than once per event. */
  receivedAtIso: string;
  requestId: string;
  /** The request's correlation id: its valid `x-correlation-id` header, else a generated one. */
  correlationId: string;
  /**
   * True when `correlationId` came from the header: it then wins for every event. Otherwise each
   * event keeps its own valid `context.correlation_id` (a Tracker batch mixes requests of a server).
   */
  correlationFromHeader: boolean;
  userAgent: string | null;
  ip: string | null;
  /** The pipeline's own service/stage (env), used when the producer's context names none. */
  service: string | null;
  stage: string | null;
}

/** The context keys the collector writes itself (the facts it can vouch for), over a client's same-named ones. */
export const ENRICHMENT_KEYS = ["user_agent", "ip", "request_id"] as const;

function hasEnrichmentKey(context: Record<string, JsonValue>): boolean {
  for (const key of ENRICHMENT_KEYS) if (Object.hasOwn(context, key)) return true;
  return false;
}

/** A member of the event's context: its own, else the batch's layer under it (batch-context.ts). */
function contextMember(
  context: Record<string, JsonValue>,
  layer: ContextLayer | null | undefined,
  key: string,
): JsonValue | undefined {
  return layer && !Object.hasOwn(context, key) ? layer.members[key] : context[key];
}

function contextString(
  context: Record<string, JsonValue>,
  layer: ContextLayer | null | undefined,
  key: string,
): string | null {
  const value = contextMember(context, layer, key);
  return typeof value === "string" && value.length > 0 ? value : null;
}

/**
 * The correlation id an accepted event is stored under: the header's when the request had a valid one
 * (DESIGN.md: kept on every event of the batch); otherwise the event's own `context.correlation_id` when
 * it is valid by the same rule as the header (runtime/correlation-extract.ts), else the request's
 * generated id. An invalid per-event id is thus replaced by the generated one; `context` keeps it as sent.
 */
export function eventCorrelationId(event: ValidEvent, facts: RequestFacts): string {
  if (facts.correlationFromHeader) return facts.correlationId;
  return (
    validCorrelationId(contextMember(event.context, event.contextLayer, "correlation_id")) ??
    facts.correlationId
  );
}

/**
 * The raw-zone line of an accepted event. `service`/`stage` come from the producer's context when it
 * names them (the app that emitted the event), else from the collector's configuration. The
 * collector's own observations (user agent, ip, request id) overwrite same-named client context keys:
 * they are the facts the collector can vouch for.
 */
export function toRawRecord(event: ValidEvent, facts: RequestFacts): RawEventRecord {
  return {
    event_id: event.eventId,
    event: event.event,
    event_time: new Date(event.eventTimeMs).toISOString(),
    received_at: facts.receivedAtIso,
    user_id: event.userId,
    anonymous_id: event.anonymousId,
    correlation_id: eventCorrelationId(event, facts),
    service: contextString(event.context, event.contextLayer, "service") ?? facts.service,
    stage: contextString(event.context, event.contextLayer, "stage") ?? facts.stage,
    properties: event.properties,
    context: {
      ...event.contextLayer?.members,
      ...event.context,
      user_agent: facts.userAgent,
      ip: facts.ip,
      request_id: facts.requestId,
    },
    schema_version: event.schemaVersion,
    request_id: facts.requestId,
  };
}

/** Strings JSON.stringify leaves as they are: no quote, backslash, control character or surrogate. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000-U+001F are exactly what JSON escapes.
const NOTHING_TO_ESCAPE = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** `JSON.stringify(text)`; ids and identities rarely need escaping, and a regex test is cheaper than the call. */
function jsonString(text: string | null): string {
  if (text === null) return "null";
  return NOTHING_TO_ESCAPE.test(text) ? `"${text}"` : JSON.stringify(text);
}

/**
 * `JSON.stringify(context)` without its braces. A context of one string member that needs no escaping
 * (a Tracker event's own `{"correlation_id": ...}`) is written by hand: JSON.stringify costs ~115 ns
 * even for that.
 */
function membersJson(context: Record<string, JsonValue>): string {
  let only: string | undefined;
  for (const key in context) {
    if (only !== undefined) return JSON.stringify(context).slice(1, -1);
    only = key;
  }
  if (only === undefined) return "";
  const value = context[only];
  // for-in also walks inherited keys (a polluted prototype): an own key is checked before it is trusted.
  return typeof value === "string" &&
    Object.hasOwn(context, only) &&
    NOTHING_TO_ESCAPE.test(only) &&
    NOTHING_TO_ESCAPE.test(value)
    ? `"${only}":"${value}"`
    : JSON.stringify(context).slice(1, -1);
}

/**
 * A flat copy of `text`. A string built by concatenation is a rope that V8 flattens (allocates and
 * copies) each time a line holding it is written out, piece by piece: the line parts made once per
 * request or per context are flattened once here, so that each line is a rope of few pieces.
 */
function flat(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}

/**
 * The same line as `JSON.stringify(toRawRecord(event, facts))`, built faster: everything that is the
 * same for the whole request (received_at, correlation and request ids, the enrichment of `context`)
 * is serialized once, and each event only serializes its own parts. A test holds the two equal.
 *
 * Each line is a rope that the NDJSON buffer flattens when it writes it, at a cost per piece (writing
 * a rope of ~50 pieces cost 4x writing the same text flat): so the constant parts around each
 * variable one are single flat strings, quotes included, and a line has about 20 pieces.
 */
export function rawRecordEncoder(facts: RequestFacts): (event: ValidEvent) => string {
  const correlationId = JSON.stringify(facts.correlationId);
  const requestId = JSON.stringify(facts.requestId);
  const defaultService = JSON.stringify(facts.service);
  const defaultStage = JSON.stringify(facts.stage);
  const enrichment = `"user_agent":${JSON.stringify(facts.userAgent)},"ip":${JSON.stringify(facts.ip)},"request_id":${requestId}`;
  /** From the end of event_time's text to the key of user_id. */
  const afterEventTime = flat(`","received_at":${JSON.stringify(facts.receivedAtIso)},"user_id":`);
  /** After a context's own members: the enrichment, the context's end, the key of schema_version. */
  const afterOwnContext = flat(`,${enrichment}},"schema_version":`);
  /** The context of an event with none, and the key of schema_version. */
  const enrichmentOnly = flat(`,"context":{${enrichment}},"schema_version":`);
  const tail = flat(`,"request_id":${requestId}}`);
  const nullTail = flat(`null${tail}`);

  // Consecutive events of one producer mostly carry the same context (library, service, stage): what
  // the line takes from it (correlation id, service, stage, the enriched context JSON) is built once
  // and reused while the next context is equal, which a walk tells faster than serializing.
  let lastContext: Record<string, JsonValue> | undefined;
  let lastLayer: ContextLayer | null | undefined;
  /** `"correlation_id":…,"service":…,"stage":…,"properties":` for the last context. */
  let beforeProperties = "";
  /** `,"context":…,"schema_version":` for the last context. */
  let afterProperties = "";
  /** `"service":…,"stage":…,"properties":` for the last service and stage values seen (mostly the same all batch). */
  let lastService: string | null | undefined;
  let lastStage: string | null | undefined;
  let serviceStage = "";
  /** For the last layer seen: `,"context":{` + its members + `,` (an event's own members follow), and its whole context. */
  let layerSeen: ContextLayer | undefined;
  let layerOpen = "";
  let layerOnly = "";
  const fromContext = (context: Record<string, JsonValue>, layer: ContextLayer | null | undefined) => {
    if (hasEnrichmentKey(context)) {
      const merged = JSON.stringify({
        ...layer?.members,
        ...context,
        user_agent: facts.userAgent,
        ip: facts.ip,
        request_id: facts.requestId,
      });
      afterProperties = `,"context":${merged},"schema_version":`;
    } else {
      if (layer && layerSeen !== layer) {
        layerOpen = flat(`,"context":{${layer.innerJson},`);
        layerOnly = flat(`,"context":{${layer.innerJson}${afterOwnContext}`);
        layerSeen = layer;
      }
      // The layer's members first, then the event's own (none of them the layer's), as the merge orders them.
      const own = membersJson(context);
      if (own === "") afterProperties = layer ? layerOnly : enrichmentOnly;
      else afterProperties = (layer ? layerOpen : `,"context":{`) + own + afterOwnContext;
    }
    const service = contextString(context, layer, "service");
    const stage = contextString(context, layer, "stage");
    if (service !== lastService || stage !== lastStage) {
      serviceStage = flat(
        `"service":${service === null ? defaultService : jsonString(service)},` +
          `"stage":${stage === null ? defaultStage : jsonString(stage)},"properties":`,
      );
      lastService = service;
      lastStage = stage;
    }
    const ownCorrelationId = facts.correlationFromHeader
      ? undefined
      : validCorrelationId(contextMember(context, layer, "correlation_id"));
    beforeProperties =
      ownCorrelationId === undefined
        ? `"correlation_id":${correlationId},${serviceStage}`
        : NOTHING_TO_ESCAPE.test(ownCorrelationId)
          ? `"correlation_id":"${ownCorrelationId}",${serviceStage}`
          : `"correlation_id":${JSON.stringify(ownCorrelationId)},${serviceStage}`;
    lastContext = context;
    lastLayer = layer;
  };
  const contexts = new EqualRunDetector();
  return (event) => {
    if (event.contextLayer !== lastLayer || !contexts.equal(event.context, lastContext))
      fromContext(event.context, event.contextLayer);
    const { eventId, userId, anonymousId } = event;
    // A conformed event name is [a-z0-9_]+ (conformName): nothing to escape, so no JSON.stringify call.
    const head = NOTHING_TO_ESCAPE.test(eventId)
      ? `{"event_id":"${eventId}","event":"${event.event}","event_time":"`
      : `{"event_id":${JSON.stringify(eventId)},"event":"${event.event}","event_time":"`;
    // The usual identity (a user id, no anonymous id) in three pieces; any other in its general form.
    const identities =
      anonymousId === null && userId !== null && NOTHING_TO_ESCAPE.test(userId)
        ? `"${userId}","anonymous_id":null,`
        : `${jsonString(userId)},"anonymous_id":${jsonString(anonymousId)},`;
    return (
      head +
      isoUtc(event.eventTimeMs) +
      afterEventTime +
      identities +
      beforeProperties +
      JSON.stringify(event.properties) +
      afterProperties +
      (event.schemaVersion === null ? nullTail : event.schemaVersion + tail)
    );
  };
}

/** The quarantine line of one rejected event (index set) or of a whole refused body (index null). */
export function toQuarantineRecord(
  facts: RequestFacts,
  status: number,
  item: { index: number | null; eventId: string | null; event: string | null; reasons: string[] },
  payload: { text: string; encoding: QuarantineRecord["payload_encoding"] },
): QuarantineRecord {
  return {
    quarantined_at: facts.receivedAtIso,
    request_id: facts.requestId,
    correlation_id: facts.correlationId,
    status,
    index: item.index,
    event_id: item.eventId,
    event: item.event,
    reasons: item.reasons,
    payload: payload.text,
    payload_encoding: payload.encoding,
  };
}
