// The collector benchmarks' inputs, shared by collector.bench.ts (wall clock) and
// callgrind-collector.bench.ts (instructions): the same batches, API Gateway events and S3 sink.
import { S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { demoTraffic } from "../local/demo-traffic.js";

export const BATCH_EVENTS = 500;
const BATCH_CONTEXT = {
  library: { name: "observatory-tracker", version: "0.1.0" },
  service: "gallery",
  stage: "prod",
};
export const BATCHES = 12;

/** Where a body carries the context its events share (library, service, stage). */
export type ContextShape = "per-event" | "batch";

/** Both shapes, with how the benchmarks name them. */
export const CONTEXT_SHAPES: readonly { shape: ContextShape; label: string }[] = [
  { shape: "per-event", label: "shared context in every event (DESIGN.md's body, any producer)" },
  { shape: "batch", label: "shared context once per batch (the Tracker's body)" },
];

/**
 * Bodies of Tracker-like events (event_id, timestamp, a correlation ID in each event's own context).
 * The shared context goes either in every event ("per-event": DESIGN.md's body, as any producer
 * without a batch context sends it, and as the Tracker did before the fifth pass) or once per batch
 * as its `context` ("batch": as the Tracker sends it now; docs/collector.md, "Batch context").
 */
export function batchBodies(shape: ContextShape = "per-event"): string[] {
  const calls = demoTraffic({ events: BATCH_EVENTS * BATCHES, seed: 11 });
  const bodies: string[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const events = calls.slice(b * BATCH_EVENTS, (b + 1) * BATCH_EVENTS).map((c, i) => ({
      event: c.event,
      properties: c.properties,
      user_id: c.options.userId,
      event_id: `00000000-0000-4000-8000-${String(b * BATCH_EVENTS + i).padStart(12, "0")}`,
      timestamp: c.options.timestamp,
      context:
        shape === "batch"
          ? { correlation_id: c.options.correlationId }
          : { ...BATCH_CONTEXT, correlation_id: c.options.correlationId },
    }));
    const sentAt = new Date().toISOString();
    bodies.push(
      JSON.stringify(
        shape === "batch"
          ? { batch: events, sent_at: sentAt, context: BATCH_CONTEXT }
          : { batch: events, sent_at: sentAt },
      ),
    );
  }
  return bodies;
}

export function httpApiEvent(body: string, n: number): APIGatewayProxyEventV2 {
  const now = Date.now();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: "/v1/batch",
    rawQueryString: "",
    headers: {
      "content-type": "application/json",
      "x-api-key": "bench-key",
      "user-agent": "observatory-tracker/0.1.0",
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "bench",
      domainName: "bench.local",
      domainPrefix: "bench",
      http: {
        method: "POST",
        path: "/v1/batch",
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.1",
        userAgent: "observatory-tracker/0.1.0",
      },
      requestId: `bench-${n}`,
      routeKey: "$default",
      stage: "$default",
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body,
    isBase64Encoded: false,
  };
}

/** An S3 client whose requests are answered in memory after the SDK built and signed them. */
export function inProcessSinkClient(): { client: S3Client; bytes: () => number } {
  let stored = 0;
  const client = new S3Client({
    region: "us-east-1",
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
    requestHandler: {
      async handle(request: { body?: unknown }) {
        const body = request.body;
        if (body instanceof Uint8Array) stored += body.length;
        else if (typeof body === "string") stored += body.length;
        return { response: { statusCode: 200, headers: { etag: '"bench"' }, body: undefined } };
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
    } as never,
  });
  return { client, bytes: () => stored };
}
