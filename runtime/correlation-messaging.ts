import { CORRELATION_ATTRIBUTE, currentCorrelationId } from "./correlation-context.js";

/** The shape SQS SendMessage and SNS Publish both take for a string attribute. */
export interface StringMessageAttribute {
  DataType: "String";
  StringValue: string;
}

/** SQS allows 10 message attributes per message (SNS too, for SQS subscribers); adding ours must not exceed it. */
export const MAX_MESSAGE_ATTRIBUTES = 10;

/**
 * Message attributes for SQS `SendMessage`/`SendMessageBatch` entries and SNS `Publish` with the
 * current correlation ID added (an ID already present is kept). Usage:
 * `new SendMessageCommand({ QueueUrl, MessageBody, MessageAttributes: withCorrelationAttributes() })`.
 */
export function withCorrelationAttributes<A extends Record<string, unknown>>(
  attributes?: A,
  correlationId: string | undefined = currentCorrelationId(),
): A & Record<string, StringMessageAttribute> {
  const out = { ...(attributes ?? {}) } as A & Record<string, StringMessageAttribute>;
  if (correlationId === undefined || CORRELATION_ATTRIBUTE in out) return out;
  if (Object.keys(out).length >= MAX_MESSAGE_ATTRIBUTES) {
    throw new Error(
      `cannot add ${CORRELATION_ATTRIBUTE}: the message already has ${MAX_MESSAGE_ATTRIBUTES} attributes, the SQS limit`,
    );
  }
  (out as Record<string, StringMessageAttribute>)[CORRELATION_ATTRIBUTE] = {
    DataType: "String",
    StringValue: correlationId,
  };
  return out;
}
