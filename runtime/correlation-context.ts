import { AsyncLocalStorage } from "node:async_hooks";

/**
 * What one unit of work (a request, a queue record, a state machine task) carries while it runs.
 * Held in AsyncLocalStorage so every log line and every Tracker event of that work can be stamped
 * without passing the ID through every function call.
 */
/** HTTP header carrying the correlation ID between services (and echoed on API responses). */
export const CORRELATION_HEADER = "x-correlation-id";
/** SQS/SNS message attribute carrying the correlation ID (attribute names allow letters, digits, -, _ and .). */
export const CORRELATION_ATTRIBUTE = "x-correlation-id";
/** Key of the correlation ID in Step Functions input, EventBridge detail and direct invocation payloads. */
export const CORRELATION_FIELD = "correlation_id";

export interface CorrelationContext {
  /** The ID shared by every service that handles the same request. */
  correlationId: string;
  /** Where the ID came from: taken from the incoming event, or created here. */
  source?: "header" | "sqs" | "sns" | "eventbridge" | "stepfunctions" | "created" | "explicit";
  /** AWS request id of the Lambda invocation handling the work, when known. */
  functionRequestId?: string;
  /** Lambda function name, when known. */
  functionName?: string;
  /** X-Ray trace id of the invocation, when known. */
  xrayTraceId?: string;
  /** Whether this is the first invocation of this Lambda environment. */
  coldStart?: boolean;
}

export const correlationStorage = new AsyncLocalStorage<CorrelationContext>();

/** The correlation ID of the work running now, or undefined outside any correlated context. */
export function currentCorrelationId(): string | undefined {
  return correlationStorage.getStore()?.correlationId;
}

/** The whole context of the work running now, or undefined. */
export function currentCorrelationContext(): CorrelationContext | undefined {
  return correlationStorage.getStore();
}

/** Run `fn` with `context` as the current correlation context (nested calls see it, siblings do not). */
export function runWithCorrelation<T>(context: CorrelationContext, fn: () => T): T {
  return correlationStorage.run(context, fn);
}
