import { CORRELATION_FIELD, currentCorrelationId } from "./correlation-context.js";

/**
 * Step Functions input carrying the current correlation ID as `correlation_id`, which the wrapped
 * task handlers read back (`withCorrelation`). An ID already in the input is kept. Usage:
 * `new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(withCorrelationInput({ job })) })`.
 * State machines pass it on to their tasks with `"correlation_id.$": "$$.Execution.Input.correlation_id"`.
 */
export function withCorrelationInput<T extends Record<string, unknown>>(
  input: T,
  correlationId: string | undefined = currentCorrelationId(),
): T & { correlation_id?: string } {
  if (correlationId === undefined || typeof input[CORRELATION_FIELD] === "string") return input;
  return { ...input, [CORRELATION_FIELD]: correlationId };
}
