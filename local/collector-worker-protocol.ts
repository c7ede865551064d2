/** Messages between the local stack's process and its collector workers (local/collector-workers.ts). */
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from "aws-lambda";
import type { EventSchema } from "../contracts/event-schema.js";

/** The environment variable that carries a worker's configuration (JSON of CollectorWorkerConfig). */
export const WORKER_CONFIG_ENV = "OBSERVATORY_COLLECTOR_WORKER";
/** Response header naming the worker process that served a request (local stack only). */
export const WORKER_PID_HEADER = "x-observatory-worker";

export interface CollectorWorkerConfig {
  s3Endpoint: string;
  bucket: string;
  apiKey: string;
  schemas: EventSchema[];
}

/** One invocation as the primary's collector wrappers replay it: its log lines and its result. */
export interface InvocationRecord {
  /** The API Gateway event without its body. */
  event: APIGatewayProxyEventV2;
  requestId: string;
  lines: string[];
  result?: APIGatewayProxyResultV2;
  error?: string;
}

export type ToWorker = { type: "connection" } | { type: "capture"; on: boolean } | { type: "stop" };

export type ToPrimary = { type: "ready"; pid: number } | { type: "invocation"; record: InvocationRecord };
