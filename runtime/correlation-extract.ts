import { CORRELATION_ATTRIBUTE, CORRELATION_FIELD, CORRELATION_HEADER } from "./correlation-context.js";

/** Where an incoming correlation ID was found. */
export type CorrelationSource = "header" | "sqs" | "sns" | "eventbridge" | "stepfunctions";

export interface FoundCorrelationId {
  correlationId: string;
  source: CorrelationSource;
}

/** Longer IDs are not IDs but payloads; we refuse to stamp them on every line. */
export const MAX_CORRELATION_ID_LENGTH = 128;
/** Printable ASCII without spaces: safe in a header, an attribute, a file name and a SQL literal. */
const VALID_ID = /^[\x21-\x7e]+$/;

/** A correlation ID as received, or undefined when it is missing or not a usable ID. */
export function validCorrelationId(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const id = value.trim();
  if (id.length === 0 || id.length > MAX_CORRELATION_ID_LENGTH || !VALID_ID.test(id)) return undefined;
  return id;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Header lookup, case-insensitive (API GW v1 keeps the client's case, v2 lowercases). */
export function headerValue(headers: unknown, name: string): string | undefined {
  if (!isObj(headers)) return undefined;
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === wanted)
      return typeof v === "string" ? v : Array.isArray(v) ? String(v[0]) : undefined;
  }
  return undefined;
}

/** SQS record: messageAttributes[name].stringValue; or an SNS envelope in the body (SNS -> SQS without raw delivery). */
export function correlationIdOfSqsRecord(record: unknown): string | undefined {
  if (!isObj(record)) return undefined;
  const attributes = record.messageAttributes;
  if (isObj(attributes)) {
    const attribute = attributes[CORRELATION_ATTRIBUTE];
    if (isObj(attribute)) {
      const id = validCorrelationId(attribute.stringValue ?? attribute.StringValue);
      if (id) return id;
    }
  }
  if (
    typeof record.body === "string" &&
    record.body.startsWith("{") &&
    record.body.includes(CORRELATION_ATTRIBUTE)
  ) {
    try {
      const envelope = JSON.parse(record.body) as unknown;
      if (isObj(envelope) && envelope.Type === "Notification")
        return snsAttribute(envelope.MessageAttributes);
    } catch {
      // Not JSON after all: no ID in the body.
    }
  }
  return undefined;
}

function snsAttribute(attributes: unknown): string | undefined {
  if (!isObj(attributes)) return undefined;
  const attribute = attributes[CORRELATION_ATTRIBUTE];
  return isObj(attribute) ? validCorrelationId(attribute.Value ?? attribute.StringValue) : undefined;
}

/** SNS record (Lambda subscribed to a topic): Sns.MessageAttributes[name].Value. */
export function correlationIdOfSnsRecord(record: unknown): string | undefined {
  if (!isObj(record) || !isObj(record.Sns)) return undefined;
  return snsAttribute(record.Sns.MessageAttributes);
}

/** One record of an SQS or SNS batch event. */
export function correlationIdOfRecord(record: unknown): FoundCorrelationId | undefined {
  if (!isObj(record)) return undefined;
  if (record.eventSource === "aws:sqs") {
    const id = correlationIdOfSqsRecord(record);
    return id ? { correlationId: id, source: "sqs" } : undefined;
  }
  if (record.EventSource === "aws:sns") {
    const id = correlationIdOfSnsRecord(record);
    return id ? { correlationId: id, source: "sns" } : undefined;
  }
  return undefined;
}

/**
 * The correlation ID carried by a Lambda event of any supported shape: API Gateway v1/v2 (header),
 * a batch with exactly one SQS/SNS record, EventBridge (`detail.correlation_id`), Step Functions or
 * a direct invocation (`correlation_id` at the top of the input). Batches of several records have one
 * ID per record: see `forEachRecordWithCorrelation`.
 */
export function extractCorrelationId(event: unknown): FoundCorrelationId | undefined {
  if (!isObj(event)) return undefined;
  if ("headers" in event && ("requestContext" in event || "routeKey" in event || "httpMethod" in event)) {
    const id = validCorrelationId(headerValue(event.headers, CORRELATION_HEADER));
    return id ? { correlationId: id, source: "header" } : undefined;
  }
  if (Array.isArray(event.Records)) {
    return event.Records.length === 1 ? correlationIdOfRecord(event.Records[0]) : undefined;
  }
  if (typeof event["detail-type"] === "string" && isObj(event.detail)) {
    const id = validCorrelationId(event.detail[CORRELATION_FIELD]);
    return id ? { correlationId: id, source: "eventbridge" } : undefined;
  }
  const id = validCorrelationId(event[CORRELATION_FIELD]);
  return id ? { correlationId: id, source: "stepfunctions" } : undefined;
}
