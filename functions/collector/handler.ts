// Lambda entry point of the collector (API Gateway HTTP API payload 2.0, or REST API v1).
// The work lives in the modules beside this file; this file only reads the environment once per
// cold start. Environment (set by MetricPipeline; documented in docs/collector.md):
//   OBSERVATORY_BUCKET                 bucket of the raw and quarantine zones (required)
//   OBSERVATORY_API_KEYS_SECRET_ARN    Secrets Manager secret holding a JSON array of API keys, or
//   OBSERVATORY_API_KEYS               comma-separated API keys (local use)
//   OBSERVATORY_EVENT_SCHEMAS          JSON array of EventSchema (contracts/event-schema.ts); optional
//   OBSERVATORY_SERVICE, OBSERVATORY_STAGE  the pipeline's service and stage; optional
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Context } from "aws-lambda";
import type { EventSchema } from "../../contracts/event-schema.js";
import { createLogger, type Logger } from "../../runtime/logger.js";
import { loadApiKeysFromSecret, parseApiKeyList } from "./api-keys.js";
import { type Collector, type CollectorLogger, createCollector } from "./collector.js";
import type { GatewayEvent, GatewayResult } from "./http-event.js";

export type { BatchResponse, Collector, CollectorLogger, CollectorOptions } from "./collector.js";
export { createCollector } from "./collector.js";

export const COLLECTOR_ENV = {
  bucket: "OBSERVATORY_BUCKET",
  apiKeys: "OBSERVATORY_API_KEYS",
  apiKeysSecretArn: "OBSERVATORY_API_KEYS_SECRET_ARN",
  eventSchemas: "OBSERVATORY_EVENT_SCHEMAS",
  service: "OBSERVATORY_SERVICE",
  stage: "OBSERVATORY_STAGE",
} as const;

/** Builds the collector from the environment; a misconfiguration fails loudly naming the variable. */
export async function collectorFromEnv(
  env: NodeJS.ProcessEnv,
  clients: { s3?: S3Client; secrets?: SecretsManagerClient } = {},
): Promise<Collector> {
  const bucket = env[COLLECTOR_ENV.bucket];
  if (!bucket) throw new Error(`${COLLECTOR_ENV.bucket} is not set`);
  const secretArn = env[COLLECTOR_ENV.apiKeysSecretArn];
  let apiKeys: string[];
  if (secretArn)
    apiKeys = await loadApiKeysFromSecret(clients.secrets ?? new SecretsManagerClient({}), secretArn);
  else apiKeys = parseApiKeyList(env[COLLECTOR_ENV.apiKeys] ?? "");
  if (apiKeys.length === 0)
    throw new Error(
      `set ${COLLECTOR_ENV.apiKeysSecretArn} or ${COLLECTOR_ENV.apiKeys}: no API key is configured`,
    );
  let schemas: EventSchema[] = [];
  const schemasJson = env[COLLECTOR_ENV.eventSchemas];
  if (schemasJson) {
    try {
      schemas = JSON.parse(schemasJson) as EventSchema[];
    } catch (error) {
      throw new Error(`${COLLECTOR_ENV.eventSchemas} is not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(schemas))
      throw new Error(`${COLLECTOR_ENV.eventSchemas} must be a JSON array of event schemas`);
  }
  return createCollector({
    s3: clients.s3 ?? new S3Client({}),
    bucket,
    apiKeys,
    schemas,
    service: env[COLLECTOR_ENV.service] ?? null,
    stage: env[COLLECTOR_ENV.stage] ?? null,
    logger: structuredLogger(
      createLogger({
        service: env[COLLECTOR_ENV.service] ?? "observatory-collector",
        stage: env[COLLECTOR_ENV.stage],
      }),
    ),
  });
}

/**
 * Structured JSON logs (runtime/logger.ts: Powertools' keys, plus the request's correlation_id), one
 * line per request that MetricPipeline's metric filters count (contracts/collector-log.ts).
 */
function structuredLogger(logger: Logger): CollectorLogger {
  return {
    info: (message, extra) => logger.info(message, extra),
    error: (message, extra) => logger.error(message, extra),
  };
}

// Cached across invocations of one execution environment: keys are read from Secrets Manager and
// schemas compiled once per cold start. A failed start is not cached, so the next invocation retries.
let collector: Promise<Collector> | undefined;

export async function handler(event: GatewayEvent, context: Context): Promise<GatewayResult> {
  collector ??= collectorFromEnv(process.env).catch((error) => {
    collector = undefined;
    throw error;
  });
  return (await collector).handler(event, context);
}
