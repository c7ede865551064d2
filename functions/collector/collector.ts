import { randomUUID } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Context } from "aws-lambda";
import {
  COLLECTOR_LOG_FIELDS,
  COLLECTOR_REFUSED_MESSAGE,
  COLLECTOR_STORED_MESSAGE,
} from "../../contracts/collector-log.js";
import type { QuarantineRecord } from "../../contracts/event-record.js";
import type { EventSchema } from "../../contracts/event-schema.js";
import { quarantineObjectKey, rawObjectKey } from "../../contracts/storage-layout.js";
import { runWithCorrelation } from "../../runtime/correlation-context.js";
import { validCorrelationId } from "../../runtime/correlation-extract.js";
import { apiKeyMatches } from "./api-keys.js";
import { contextLayer, mergeBatchContext } from "./batch-context.js";
import { type RequestFacts, rawRecordEncoder, toQuarantineRecord } from "./enrich.js";
import { parseInstant } from "./event-time.js";
import {
  type CollectorRequest,
  type GatewayEvent,
  type GatewayResult,
  jsonResult,
  toCollectorRequest,
} from "./http-event.js";
import { MAX_USER_AGENT_LENGTH, RETRY_AFTER_SECONDS } from "./limits.js";
import { NdjsonBuffer } from "./ndjson-buffer.js";
import { parseBody } from "./parse-body.js";
import { EventValidator } from "./validate.js";
import { putGzipObject, putNdjsonGzip } from "./write-objects.js";

/** Where the collector reports what it did: runtime/logger.ts on Lambda and locally, a no-op or a spy in tests. */
export interface CollectorLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export interface CollectorOptions {
  s3: S3Client;
  bucket: string;
  /** Accepted `x-api-key` values. */
  apiKeys: readonly string[];
  /** Declared event schemas, enforced when an event has one. */
  schemas?: readonly EventSchema[];
  /** The pipeline's service and stage, used when an event's context names none. */
  service?: string | null;
  stage?: string | null;
  /** Clock, for tests. */
  now?: () => Date;
  logger?: CollectorLogger;
}

export interface Collector {
  /** The Lambda entry point: API Gateway HTTP API (payload 2.0) or REST API (v1) proxy events. */
  handler(event: GatewayEvent, context?: Context): Promise<GatewayResult>;
  /** The same, over an already normalized request. */
  handle(request: CollectorRequest): Promise<GatewayResult>;
}

export interface BatchResponse {
  accepted: number;
  rejected: { index: number; event_id: string; errors: string[] }[];
}

const silentLogger: CollectorLogger = { info() {}, error() {} };

export function createCollector(options: CollectorOptions): Collector {
  const validator = new EventValidator(options.schemas ?? []);
  const now = options.now ?? (() => new Date());
  const logger = options.logger ?? silentLogger;
  const { s3, bucket } = options;

  /** Quarantine must not turn bad input into a 5xx: if S3 refuses it, the records go to the log (archived by LogCentralizer). */
  async function quarantine(facts: RequestFacts, records: QuarantineRecord[]): Promise<void> {
    try {
      const lines = records.map((record) => JSON.stringify(record));
      await putNdjsonGzip(s3, bucket, quarantineObjectKey(facts.receivedAt, facts.requestId), lines);
    } catch (error) {
      logger.error("quarantine write failed; the rejected items follow in this log line", {
        error: (error as Error).message,
        quarantine_records: records,
      });
    }
  }

  async function handleBatch(
    request: CollectorRequest,
    facts: RequestFacts,
    respond: (status: number, body: unknown, headers?: Record<string, string>) => GatewayResult,
  ) {
    const parsed = parseBody(request);
    if (!parsed.ok) {
      const item = { index: null, eventId: null, event: null, reasons: [parsed.error] };
      await quarantine(facts, [
        toQuarantineRecord(facts, parsed.status, item, {
          text: parsed.payload,
          encoding: parsed.payloadEncoding,
        }),
      ]);
      logger.info(COLLECTOR_REFUSED_MESSAGE, {
        status: parsed.status,
        error: parsed.error,
        request_id: facts.requestId,
      });
      return respond(parsed.status, { error: parsed.error });
    }

    const receivedAtMs = facts.receivedAt.getTime();
    // Accepted lines go into the object's buffer as they are made, 32 at a time (ndjson-buffer.ts).
    const accepted = new NdjsonBuffer();
    const encode = rawRecordEncoder(facts);
    const rejected: BatchResponse["rejected"] = [];
    const quarantined: QuarantineRecord[] = [];
    const batchSentAt = parsed.sentAt === undefined ? undefined : parseInstant(parsed.sentAt, "sent_at");
    // Every event is validated, stored or quarantined with the batch's context merged under its own:
    // conformed once as a layer when it can be (batch-context.ts), else merged into each event here.
    const batchContext = parsed.context;
    const layer = batchContext === undefined ? undefined : contextLayer(batchContext);
    const mergeEach = layer === "merge";
    const events = parsed.events;
    for (let index = 0; index < events.length; index++) {
      const raw = events[index];
      if (mergeEach) mergeBatchContext(raw, batchContext!);
      // Let what is done die young: the parsed events behind the cursor are garbage, not survivors
      // that every young-generation collection during the loop would copy.
      events[index] = undefined;
      const verdict = validator.check(
        raw,
        batchSentAt,
        receivedAtMs,
        request.bodyLength,
        mergeEach ? undefined : layer,
      );
      if (verdict.ok) {
        accepted.append(encode(verdict));
        continue;
      }
      // Quarantined as validated, the batch's context merged in, so that it replays alone.
      if (batchContext !== undefined && !mergeEach) mergeBatchContext(raw, batchContext);
      rejected.push({ index, event_id: verdict.eventId, errors: verdict.errors });
      let payload: { text: string; encoding: QuarantineRecord["payload_encoding"] };
      try {
        payload = { text: JSON.stringify(raw), encoding: "json" };
      } catch {
        // Too deep for JSON.stringify's recursion: keep the whole body, which holds it verbatim.
        payload = { text: request.body.toString("base64"), encoding: "base64" };
        verdict.errors.push("payload is the whole request body (the event alone could not be serialized)");
      }
      const item = { index, eventId: verdict.eventId, event: verdict.event, reasons: verdict.errors };
      quarantined.push(toQuarantineRecord(facts, 200, item, payload));
    }

    // Raw first: if it fails the client retries the whole batch, so nothing may be quarantined yet.
    if (accepted.lines > 0) {
      try {
        // Gzipped before any await: the buffer is this request's alone until then.
        const key = rawObjectKey(facts.receivedAt, facts.requestId);
        await putGzipObject(s3, bucket, key, accepted.gzip(), accepted.lines);
      } catch (error) {
        logger.error("raw write failed; answering 503", {
          error: (error as Error).message,
          request_id: facts.requestId,
        });
        return respond(
          503,
          { error: "storage is unavailable; retry later" },
          { "retry-after": String(RETRY_AFTER_SECONDS) },
        );
      }
    }
    if (quarantined.length > 0) await quarantine(facts, quarantined);
    logger.info(COLLECTOR_STORED_MESSAGE, {
      [COLLECTOR_LOG_FIELDS.accepted]: accepted.lines,
      [COLLECTOR_LOG_FIELDS.rejected]: rejected.length,
      request_id: facts.requestId,
    });
    const body: BatchResponse = { accepted: accepted.lines, rejected };
    return respond(200, body);
  }

  async function handle(request: CollectorRequest): Promise<GatewayResult> {
    // The caller's id when it is sane (the same rule as the logger's and the Tracker's); otherwise a new one.
    const fromHeader = validCorrelationId(request.headers["x-correlation-id"]);
    const given = fromHeader !== undefined;
    const correlationId = fromHeader ?? randomUUID();
    const requestId = request.requestId || randomUUID();
    const respond = (status: number, body: unknown, headers: Record<string, string> = {}) =>
      jsonResult(status, body, { "x-correlation-id": correlationId, "x-request-id": requestId, ...headers });

    const route = request.path.replace(/\/+$/, "");
    if (route.endsWith("/v1/health")) {
      return request.method === "GET" || request.method === "HEAD"
        ? respond(200, { status: "ok" })
        : respond(405, { error: "use GET /v1/health" }, { allow: "GET" });
    }
    if (!route.endsWith("/v1/batch"))
      return respond(404, {
        error: `no route ${request.method} ${request.path}: POST /v1/batch or GET /v1/health`,
      });
    if (request.method !== "POST") return respond(405, { error: "use POST /v1/batch" }, { allow: "POST" });
    // Unauthenticated bodies are not stored: anyone could fill the bucket otherwise.
    if (!apiKeyMatches(request.headers["x-api-key"], options.apiKeys)) {
      return respond(401, { error: "missing or invalid x-api-key header" });
    }
    const receivedAt = now();
    const facts: RequestFacts = {
      receivedAt,
      receivedAtIso: receivedAt.toISOString(),
      requestId,
      correlationId,
      correlationFromHeader: given,
      userAgent:
        (request.userAgent ?? request.headers["user-agent"])?.slice(0, MAX_USER_AGENT_LENGTH) ?? null,
      ip: request.sourceIp,
      service: options.service ?? null,
      stage: options.stage ?? null,
    };
    // Log lines written while handling (runtime/logger.ts) carry this request's correlation id.
    const correlation = {
      correlationId,
      source: given ? ("header" as const) : ("created" as const),
      functionRequestId: requestId,
    };
    return runWithCorrelation(correlation, () => handleBatch(request, facts, respond));
  }

  return {
    handle,
    handler: (event) => handle(toCollectorRequest(event)),
  };
}
