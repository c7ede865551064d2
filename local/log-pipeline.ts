import type { S3Client } from "@aws-sdk/client-s3";
import type { Context } from "aws-lambda";
import { consumeSubscription } from "../functions/log-consumer/consume.js";
import { asLocalLambda, DELIVERY_INTERVAL_MS, LocalLogDelivery } from "./log-delivery.js";

/**
 * The logging half of the local stack: handlers run through `lambda()` have their log lines (and
 * START/END/REPORT) delivered, batched, in the CloudWatch Logs subscription shape to the real log
 * consumer, which writes the `logs` archive into the local bucket - as LogCentralizer does on AWS.
 */
export interface LocalLogPipeline {
  /**
   * Wraps a handler as the Lambda function `functionName` (log group `/aws/lambda/<functionName>`),
   * its lines archived under `service` (default: each line's own service).
   */
  lambda<E, R>(
    functionName: string,
    handler: (event: E, context: Context) => Promise<R>,
    service?: string,
  ): (event: E, context?: Context) => Promise<R>;
  /** Delivers every buffered line now (and waits until the consumer has archived it). */
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly stats: { deliveries: number; rows: number; failedDeliveries: number };
}

export function startLocalLogPipeline(options: {
  s3: S3Client;
  bucket: string;
  intervalMs?: number;
  onError?: (error: unknown) => void;
}): LocalLogPipeline {
  const stats = { deliveries: 0, rows: 0, failedDeliveries: 0 };
  const delivery = new LocalLogDelivery({
    intervalMs: options.intervalMs ?? DELIVERY_INTERVAL_MS,
    deliver: async (event) => {
      const result = await consumeSubscription(event, { s3: options.s3, bucket: options.bucket });
      stats.deliveries++;
      stats.rows += result.rows;
    },
    onError: (error) => {
      stats.failedDeliveries++;
      options.onError?.(error);
    },
  });
  return {
    lambda: (functionName, handler, service) => asLocalLambda(delivery, { functionName, service }, handler),
    flush: () => delivery.flush(),
    close: () => delivery.close(),
    stats,
  };
}
