import { randomUUID } from "node:crypto";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { CORRELATION_HEADER, type CorrelationContext, runWithCorrelation } from "./correlation-context.js";
import { correlationIdOfRecord, extractCorrelationId } from "./correlation-extract.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The Root of `_X_AMZN_TRACE_ID` (`Root=1-...;Parent=...;Sampled=1`), which is what X-Ray searches by. */
export function xrayTraceIdFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const header = env._X_AMZN_TRACE_ID;
  if (!header) return undefined;
  const root = header.split(";").find((part) => part.startsWith("Root="));
  return root ? root.slice("Root=".length) : undefined;
}

function isApiGatewayEvent(event: unknown): event is Obj {
  return (
    isObj(event) &&
    "headers" in event &&
    ("requestContext" in event || "routeKey" in event || "httpMethod" in event)
  );
}

/**
 * API responses echo the correlation ID, so a caller that did not send one learns the one created
 * for it. A v2 handler may return a bare string or object (API Gateway turns it into a 200 JSON
 * response); we build that response ourselves to be able to add the header.
 */
export function echoCorrelationHeader(event: unknown, result: unknown, correlationId: string): unknown {
  if (!isApiGatewayEvent(event)) return result;
  if (isObj(result) && typeof result.statusCode === "number") {
    const headers = isObj(result.headers) ? result.headers : {};
    return { ...result, headers: { ...headers, [CORRELATION_HEADER]: correlationId } };
  }
  if (event.version === "2.0" && result !== undefined) {
    return {
      statusCode: 200,
      headers: { "content-type": "application/json", [CORRELATION_HEADER]: correlationId },
      body: typeof result === "string" ? result : JSON.stringify(result),
    };
  }
  return result;
}

export interface WithCorrelationOptions {
  /** Creates an ID when the event carries none; default a random UUID. */
  createId?: () => string;
  /**
   * Logs an error the handler throws (with the request's correlation ID) before it is rethrown:
   * Lambda's own error line carries no correlation ID, so without this a trace misses the failure.
   */
  logger?: { error(message: string, error?: Error): void };
  /**
   * Flushed after every invocation, success or failure (e.g. a Tracker): Lambda freezes the
   * environment when the handler returns, and queued events would wait - or be lost - until the next one.
   */
  flush?: readonly { flush(): Promise<void> }[];
}

type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/**
 * Wraps a Lambda handler so that it runs in a correlation context: the ID is taken from the event
 * (API Gateway header, single SQS/SNS record attribute, EventBridge detail, Step Functions input) or
 * created; every log line and Tracker event inside carries it; API responses echo it.
 */
export function withCorrelation<E, R>(
  handler: LambdaHandler<E, R>,
  options: WithCorrelationOptions = {},
): LambdaHandler<E, R> {
  const createId = options.createId ?? randomUUID;
  let coldStart = true;
  return async (event, context) => {
    const found = extractCorrelationId(event);
    const correlation: CorrelationContext = {
      correlationId: found?.correlationId ?? createId(),
      source: found?.source ?? "created",
      functionRequestId: context?.awsRequestId,
      functionName: context?.functionName ?? process.env.AWS_LAMBDA_FUNCTION_NAME,
      xrayTraceId: xrayTraceIdFromEnv(),
      coldStart,
    };
    coldStart = false;
    const result = await runWithCorrelation(correlation, async () => {
      try {
        return await handler(event, context);
      } catch (error) {
        options.logger?.error("handler failed", error instanceof Error ? error : new Error(String(error)));
        throw error;
      } finally {
        // A failing flush must not turn a good response into an error: the Tracker reports its own losses.
        await Promise.allSettled((options.flush ?? []).map((f) => f.flush()));
      }
    });
    return echoCorrelationHeader(event, result, correlation.correlationId) as R;
  };
}

/**
 * Runs `fn` once per SQS/SNS record, each in its own correlation context (the record's ID, or a new
 * one), so lines about one message never carry another message's ID. Records run one after another;
 * the messageIds of records that threw are returned for SQS's partial batch response.
 */
export async function forEachRecordWithCorrelation<T extends Obj | SQSRecord>(
  records: readonly T[],
  fn: (record: T) => Promise<void>,
  options: { context?: Context; createId?: () => string; logger?: WithCorrelationOptions["logger"] } = {},
): Promise<{ failedMessageIds: string[]; errors: unknown[] }> {
  const createId = options.createId ?? randomUUID;
  const failedMessageIds: string[] = [];
  const errors: unknown[] = [];
  for (const record of records) {
    const found = correlationIdOfRecord(record);
    const correlation: CorrelationContext = {
      correlationId: found?.correlationId ?? createId(),
      source: found?.source ?? "created",
      functionRequestId: options.context?.awsRequestId,
      functionName: options.context?.functionName ?? process.env.AWS_LAMBDA_FUNCTION_NAME,
      xrayTraceId: xrayTraceIdFromEnv(),
    };
    try {
      await runWithCorrelation(correlation, async () => {
        try {
          await fn(record);
        } catch (error) {
          // Logged in the record's own context, so the failure shows in that message's trace.
          options.logger?.error("record failed", error instanceof Error ? error : new Error(String(error)));
          throw error;
        }
      });
    } catch (error) {
      const messageId = (record as Obj).messageId;
      if (typeof messageId === "string") failedMessageIds.push(messageId);
      errors.push(error);
    }
  }
  return { failedMessageIds, errors };
}

/**
 * An SQS handler that processes each record in its own correlation context and reports failed
 * records (the event source mapping needs `FunctionResponseTypes: ["ReportBatchItemFailures"]`), so
 * one bad message is retried alone, not with its batch.
 */
export function withSqsRecordCorrelation(
  recordHandler: (record: SQSRecord, context: Context) => Promise<void>,
  options: Pick<WithCorrelationOptions, "logger" | "flush"> = {},
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  return async (event, context) => {
    const { failedMessageIds } = await forEachRecordWithCorrelation(
      event.Records,
      (record) => recordHandler(record, context),
      { context, logger: options.logger },
    );
    await Promise.allSettled((options.flush ?? []).map((f) => f.flush()));
    return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
