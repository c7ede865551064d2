import type { S3Client } from "@aws-sdk/client-s3";
import type { EventSchema } from "../contracts/event-schema.js";
import { createCollector } from "../functions/collector/collector.js";
import { nullStream, RoutedLogStream } from "../runtime/log-output.js";
import { createLogger } from "../runtime/logger.js";
import type { HttpLambdaHandler } from "./api-gateway.js";

/**
 * The local stack's collector, configured one way wherever it runs: in the stack's own process or in
 * a collector worker (local/collector-workers.ts).
 */

/** The collector's Lambda function name locally (its log group is /aws/lambda/<name>). */
export const LOCAL_COLLECTOR_FUNCTION = "observatory-collector";

export interface LocalCollectorOptions {
  s3: S3Client;
  bucket: string;
  apiKey: string;
  schemas: readonly EventSchema[];
  /** Where the collector's error lines are shown (stderr, even when the stack is quiet). */
  log(message: string): void;
}

export function createLocalCollectorHandler(options: LocalCollectorOptions): HttpLambdaHandler {
  // The collector logs as on AWS (runtime/logger.ts, one line per request). Its lines reach an
  // extra that captures them (H5's local log archive, through wrapCollector); otherwise they are
  // dropped, except errors, which the console shows.
  const collectorLogger = createLogger({
    service: LOCAL_COLLECTOR_FUNCTION,
    stage: "local",
    destination: new RoutedLogStream(nullStream()),
  });
  return createCollector({
    s3: options.s3,
    bucket: options.bucket,
    apiKeys: [options.apiKey],
    schemas: options.schemas,
    service: "local",
    stage: "local",
    logger: {
      info: (message, extra) => collectorLogger.info(message, extra),
      error: (message, extra) => {
        collectorLogger.error(message, extra);
        options.log(`collector: ${message} ${JSON.stringify(extra ?? {})}`);
      },
    },
  }).handler as HttpLambdaHandler;
}
