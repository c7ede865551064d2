// End to end: a server handling many requests at once -> one Tracker -> local stack -> S3 -> trace.
// The Tracker sends mixed batches (no x-correlation-id header); the collector keeps each event's own
// context.correlation_id (docs/collector.md), so every event lands under its request's ID.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../local/stack.js";
import { runWithCorrelation } from "../runtime/correlation-context.js";
import { withCorrelation } from "../runtime/correlation-handler.js";
import { Tracker } from "../runtime/tracker.js";
import { traceLocal } from "../trace/local-trace.js";
import { readNdjsonObjects } from "./collector-helpers.js";

const REQUESTS = 20;
const EVENTS_PER_REQUEST = 5;

interface RawLine {
  event_id: string;
  correlation_id: string;
  user_id: string;
  context: { correlation_id?: string };
}

describe("concurrent requests with different correlation IDs -> one Tracker -> local stack", () => {
  let dir: string;
  let stack: LocalStack;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-e2e-corr-"));
    stack = await startLocalStack({ dataDir: dir, s3Port: 0, collectorPort: 0, dynamoPort: 0, quiet: true });
  });
  afterAll(async () => {
    await stack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const rawLines = async (): Promise<RawLine[]> =>
    (await readNdjsonObjects(stack.s3.client, stack.s3.bucket, "raw/")).flatMap(
      (o) => o.lines as unknown as RawLine[],
    );

  it("runWithCorrelation: requests share batches and every event lands under its own ID; trace finds it", async () => {
    const tracker = new Tracker({ endpoint: stack.collector.url, apiKey: stack.apiKey });
    // Interleaved as a server does: each request tracks, yields to the loop, tracks again.
    await Promise.all(
      Array.from({ length: REQUESTS }, (_, r) =>
        runWithCorrelation({ correlationId: `srv-${r}` }, async () => {
          for (let e = 0; e < EVENTS_PER_REQUEST; e++) {
            tracker.track("search_made", { query: `q${e}`, n_results: e }, { userId: `u-${r}-${e}` });
            await nextTurn();
          }
        }),
      ),
    );
    await tracker.close();
    const total = REQUESTS * EVENTS_PER_REQUEST;
    expect(tracker.stats()).toMatchObject({ accepted: total, rejected: 0 });
    // Shared batches: far fewer requests than correlation IDs (one per ID before).
    expect(tracker.stats().requests).toBeLessThan(REQUESTS);

    const lines = (await rawLines()).filter((l) => l.correlation_id.startsWith("srv-"));
    expect(lines).toHaveLength(total);
    expect(new Set(lines.map((l) => l.event_id)).size).toBe(total);
    for (const line of lines) {
      expect(line.correlation_id).toBe(line.context.correlation_id);
      // user_id u-<r>-<e> was tracked inside request srv-<r>.
      expect(line.correlation_id).toBe(`srv-${line.user_id.split("-")[1]}`);
    }

    const entries = await traceLocal({
      s3: stack.s3.client,
      bucket: stack.s3.bucket,
      correlationId: "srv-7",
      cacheDir: join(dir, "trace-cache"),
    });
    const events = entries.filter((entry) => entry.kind === "event");
    expect(events).toHaveLength(EVENTS_PER_REQUEST);
  });

  it("withCorrelation handlers running at once: each event lands under its invocation's header ID", async () => {
    const tracker = new Tracker({ endpoint: stack.collector.url, apiKey: stack.apiKey });
    const handler = withCorrelation(async (event: APIGatewayProxyEventV2) => {
      for (let e = 0; e < EVENTS_PER_REQUEST; e++) {
        tracker.track(
          "downloaded_img",
          { image_id: `i-${e}`, image_size: 100 + e },
          {
            userId: event.queryStringParameters?.user ?? "?",
          },
        );
        await nextTurn();
      }
      return { statusCode: 200, body: "ok" };
    });
    const invoke = (r: number) =>
      handler(
        {
          version: "2.0",
          routeKey: "GET /img",
          rawPath: "/img",
          rawQueryString: `user=h-${r}`,
          queryStringParameters: { user: `h-${r}` },
          headers: { "x-correlation-id": `gw-${r}` },
          requestContext: { requestId: `r-${r}`, http: { method: "GET", path: "/img" } },
          isBase64Encoded: false,
        } as unknown as APIGatewayProxyEventV2,
        { awsRequestId: `aws-${r}`, functionName: "img" } as Context,
      );
    await Promise.all(Array.from({ length: REQUESTS }, (_, r) => invoke(r)));
    await tracker.close();
    expect(tracker.stats().requests).toBeLessThan(REQUESTS);

    const lines = (await rawLines()).filter((l) => l.correlation_id.startsWith("gw-"));
    expect(lines).toHaveLength(REQUESTS * EVENTS_PER_REQUEST);
    for (const line of lines) expect(line.correlation_id).toBe(`gw-${line.user_id.slice("h-".length)}`);
  });
});
