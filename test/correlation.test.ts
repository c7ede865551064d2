import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DemoServices, startDemoServices } from "../local/demo-services/start.js";
import { type LocalLogPipeline, startLocalLogPipeline } from "../local/log-pipeline.js";
import { type LocalStack, startLocalStack } from "../local/stack.js";
import {
  currentCorrelationContext,
  currentCorrelationId,
  runWithCorrelation,
} from "../runtime/correlation-context.js";
import { extractCorrelationId, MAX_CORRELATION_ID_LENGTH } from "../runtime/correlation-extract.js";
import { correlatedFetch } from "../runtime/correlation-fetch.js";
import { withCorrelation, withSqsRecordCorrelation } from "../runtime/correlation-handler.js";
import { withCorrelationAttributes } from "../runtime/correlation-messaging.js";
import { withCorrelationInput } from "../runtime/correlation-stepfunctions.js";
import { captureLogLines } from "../runtime/log-output.js";
import { createLogger } from "../runtime/logger.js";
import { traceLocal } from "../trace/local-trace.js";
import { buildTimeline } from "../trace/timeline.js";

const context = {
  awsRequestId: "11111111-2222-4333-8444-555555555555",
  functionName: "orders-fn",
} as Context;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function sqsRecord(messageId: string, body: string, correlationId?: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `AQEB${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "1763800000000",
      SenderId: "AIDAEXAMPLE",
      ApproximateFirstReceiveTimestamp: "1763800000001",
    },
    messageAttributes: correlationId
      ? {
          "x-correlation-id": {
            stringValue: correlationId,
            stringListValues: [],
            binaryListValues: [],
            dataType: "String",
          },
        }
      : {},
    md5OfBody: "0".repeat(32),
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:orders",
    awsRegion: "us-east-1",
  };
}

describe("correlation ID extraction", () => {
  it("reads API Gateway v1 (any header case) and v2 headers", () => {
    const v1 = {
      resource: "/orders",
      path: "/orders",
      httpMethod: "POST",
      headers: { "X-Correlation-Id": "abc-1" },
      requestContext: { requestId: "r" },
    };
    const v2 = {
      version: "2.0",
      routeKey: "POST /orders",
      rawPath: "/orders",
      headers: { "x-correlation-id": "abc-2" },
      requestContext: { requestId: "r" },
    };
    expect(extractCorrelationId(v1)).toEqual({ correlationId: "abc-1", source: "header" });
    expect(extractCorrelationId(v2)).toEqual({ correlationId: "abc-2", source: "header" });
    expect(extractCorrelationId({ ...v2, headers: {} })).toBeUndefined();
  });

  it("reads SNS records, SNS envelopes delivered through SQS, EventBridge detail and Step Functions input", () => {
    const sns = {
      Records: [
        {
          EventSource: "aws:sns",
          EventVersion: "1.0",
          Sns: {
            Type: "Notification",
            MessageId: "m",
            Message: "{}",
            MessageAttributes: { "x-correlation-id": { Type: "String", Value: "sns-1" } },
          },
        },
      ],
    };
    expect(extractCorrelationId(sns)).toEqual({ correlationId: "sns-1", source: "sns" });
    const envelope = JSON.stringify({
      Type: "Notification",
      MessageId: "m",
      Message: "{}",
      MessageAttributes: { "x-correlation-id": { Type: "String", Value: "sns-2" } },
    });
    expect(extractCorrelationId({ Records: [sqsRecord("m1", envelope)] })).toEqual({
      correlationId: "sns-2",
      source: "sqs",
    });
    expect(
      extractCorrelationId({
        version: "0",
        id: "e",
        "detail-type": "OrderPlaced",
        source: "shop",
        detail: { correlation_id: "eb-1" },
      }),
    ).toEqual({ correlationId: "eb-1", source: "eventbridge" });
    expect(extractCorrelationId({ correlation_id: "sfn-1", job: "compaction" })).toEqual({
      correlationId: "sfn-1",
      source: "stepfunctions",
    });
  });

  it("ignores IDs that are not usable IDs (too long, spaces, not a string)", () => {
    expect(
      extractCorrelationId({ correlation_id: "a".repeat(MAX_CORRELATION_ID_LENGTH + 1) }),
    ).toBeUndefined();
    expect(extractCorrelationId({ correlation_id: "has space" })).toBeUndefined();
    expect(extractCorrelationId({ correlation_id: 42 })).toBeUndefined();
  });
});

describe("withCorrelation", () => {
  it("runs the handler in the event's context, echoes the header, and creates an ID when there is none", async () => {
    const seen: unknown[] = [];
    const handler = withCorrelation(async () => {
      seen.push(currentCorrelationContext());
      return { statusCode: 201, headers: { "content-type": "text/plain" }, body: "ok" };
    });
    const v2 = {
      version: "2.0",
      routeKey: "$default",
      rawPath: "/",
      headers: { "x-correlation-id": "given-1" },
      requestContext: { requestId: "r" },
    };
    const first = (await handler(v2, context)) as { headers: Record<string, string> };
    expect(first.headers).toEqual({ "content-type": "text/plain", "x-correlation-id": "given-1" });
    const second = (await handler({ ...v2, headers: {} }, context)) as { headers: Record<string, string> };
    expect(second.headers["x-correlation-id"]).toMatch(UUID);
    expect(seen).toEqual([
      {
        correlationId: "given-1",
        source: "header",
        functionRequestId: context.awsRequestId,
        functionName: "orders-fn",
        xrayTraceId: undefined,
        coldStart: true,
      },
      {
        correlationId: second.headers["x-correlation-id"],
        source: "created",
        functionRequestId: context.awsRequestId,
        functionName: "orders-fn",
        xrayTraceId: undefined,
        coldStart: false,
      },
    ]);
    expect(currentCorrelationId()).toBeUndefined();
  });

  it("logs a thrown error with the request's ID, rethrows it, and flushes after every invocation", async () => {
    const lines: { message: string; correlation_id: string; error?: { message: string } }[] = [];
    const flushed: string[] = [];
    const tracker = { flush: async () => void flushed.push(currentCorrelationId() ?? "none") };
    const failingFlush = { flush: async () => Promise.reject(new Error("collector down")) };
    const handler = withCorrelation(
      async (event: { correlation_id: string; fail?: boolean }) => {
        if (event.fail) throw new Error("out of stock");
        return "done";
      },
      { logger: createLogger({ service: "orders" }), flush: [tracker, failingFlush] },
    );
    await captureLogLines(
      (l) => lines.push(JSON.parse(l)),
      async () => {
        expect(await handler({ correlation_id: "ok-1" }, context)).toBe("done");
        await expect(handler({ correlation_id: "bad-1", fail: true }, context)).rejects.toThrow(
          "out of stock",
        );
      },
    );
    expect(flushed).toEqual(["ok-1", "bad-1"]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      message: "handler failed",
      correlation_id: "bad-1",
      error: { message: "out of stock" },
    });
  });

  it("turns a bare v2 result into a response so it can carry the header", async () => {
    const handler = withCorrelation(async () => ({ hello: "world" }));
    const result = await handler(
      { version: "2.0", routeKey: "$default", headers: {}, requestContext: {} },
      context,
    );
    expect(result).toMatchObject({
      statusCode: 200,
      body: '{"hello":"world"}',
      headers: { "content-type": "application/json" },
    });
  });

  it("processes every SQS record in its own context and reports only the failed record", async () => {
    const lines: { message: string; correlation_id: string }[] = [];
    const logger = createLogger({ service: "orders" });
    const handler = withSqsRecordCorrelation(
      async (record) => {
        logger.info(`processing ${record.messageId}`);
        if (record.body === "poison") throw new Error("cannot parse");
      },
      { logger },
    );
    const event: SQSEvent = {
      Records: [
        sqsRecord("m-1", "{}", "id-one"),
        sqsRecord("m-2", "poison", "id-two"),
        sqsRecord("m-3", "{}"),
      ],
    };
    const result = await captureLogLines(
      (l) => lines.push(JSON.parse(l)),
      () => handler(event, context),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: "m-2" }] });
    expect(lines.map((l) => [l.message, l.correlation_id])).toEqual([
      ["processing m-1", "id-one"],
      ["processing m-2", "id-two"],
      ["record failed", "id-two"],
      ["processing m-3", expect.stringMatching(UUID)],
    ]);
  });
});

describe("propagation helpers", () => {
  it("adds the current ID to SQS/SNS message attributes and Step Functions input, keeping one already there", () => {
    runWithCorrelation({ correlationId: "prop-1" }, () => {
      expect(withCorrelationAttributes({ kind: { DataType: "String", StringValue: "order" } })).toEqual({
        kind: { DataType: "String", StringValue: "order" },
        "x-correlation-id": { DataType: "String", StringValue: "prop-1" },
      });
      expect(
        withCorrelationAttributes({ "x-correlation-id": { DataType: "String", StringValue: "kept" } })[
          "x-correlation-id"
        ],
      ).toEqual({ DataType: "String", StringValue: "kept" });
      const ten = Object.fromEntries(
        Array.from({ length: 10 }, (_, i) => [`a${i}`, { DataType: "String", StringValue: "v" }]),
      );
      expect(() => withCorrelationAttributes(ten)).toThrow(/already has 10 attributes/);
      expect(withCorrelationInput({ job: "x" })).toEqual({ job: "x", correlation_id: "prop-1" });
      expect(withCorrelationInput({ job: "x", correlation_id: "kept" })).toEqual({
        job: "x",
        correlation_id: "kept",
      });
    });
    expect(withCorrelationAttributes()).toEqual({});
    expect(withCorrelationInput({ job: "x" })).toEqual({ job: "x" });
  });

  describe("correlatedFetch over real HTTP", () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      server = createServer((req, res) =>
        res.end(JSON.stringify({ header: req.headers["x-correlation-id"] ?? null })),
      );
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it("sends the current ID, never overrides an explicit one, and adds nothing outside a request", async () => {
      const f = correlatedFetch();
      const get = async (init?: RequestInit) =>
        ((await (await f(url, init)).json()) as { header: string | null }).header;
      expect(await runWithCorrelation({ correlationId: "fetch-1" }, () => get())).toBe("fetch-1");
      expect(
        await runWithCorrelation({ correlationId: "fetch-1" }, () =>
          get({ headers: { "x-correlation-id": "mine" } }),
        ),
      ).toBe("mine");
      expect(await get()).toBeNull();
    });
  });
});

describe("one correlation ID through three services over real local HTTP", () => {
  let dir: string;
  let stack: LocalStack;
  let pipeline: LocalLogPipeline;
  let services: DemoServices;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-corr-"));
    stack = await startLocalStack({ dataDir: dir, s3Port: 0, collectorPort: 0, dynamoPort: 0, quiet: true });
    pipeline = startLocalLogPipeline({ s3: stack.s3.client, bucket: stack.bucket, intervalMs: 100 });
    services = await startDemoServices({
      pipeline,
      collector: { url: stack.collector.url, apiKey: stack.apiKey },
    });
  });
  afterAll(async () => {
    await services?.close();
    await pipeline?.close();
    await stack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("A -> B -> C: every line and event carries the caller's ID, and trace shows all of it", async () => {
    const id = "5e1f7a9c-3b2d-4c8e-9f01-23456789abcd";
    const response = await fetch(`${services.storefront.url}/search?q=cat&user=u-7`, {
      headers: { "x-correlation-id": id },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-correlation-id")).toBe(id);
    const body = (await response.json()) as { results: { image_id: string; thumbnail: string }[] };
    expect(body.results.map((r) => r.image_id)).toEqual(["img-cat-1", "img-cat-2"]);
    expect(body.results[0]!.thumbnail).toMatch(/img-cat-1\.webp$/);

    await pipeline.flush();
    const rows = buildTimeline(
      await traceLocal({
        s3: stack.s3.client,
        bucket: stack.bucket,
        correlationId: id,
        cacheDir: join(dir, "trace"),
      }),
    );
    const logs = rows.filter((r) => r.kind === "log");
    expect(new Set(logs.map((r) => r.service))).toEqual(new Set(["storefront", "search", "images"]));
    expect(
      logs.filter((r) => !/^(START|END|REPORT) /.test(r.message)).map((r) => `${r.service}: ${r.message}`),
    ).toEqual([
      "storefront: search page requested",
      "search: catalog searched",
      "images: thumbnails served",
      "storefront: search page rendered",
    ]);
    // Each of the three invocations' START, END and REPORT belongs to the trace too.
    for (const fn of ["demo-storefront", "demo-search", "demo-images"]) {
      expect(logs.filter((r) => r.function === fn && /^(START|END|REPORT) /.test(r.message))).toHaveLength(3);
    }
    const events = rows.filter((r) => r.kind === "event").map((r) => `${r.service}: ${r.message}`);
    expect(events.sort()).toEqual([
      'images: downloaded_img {"image_id":"img-cat-1","image_size":1024}',
      'images: downloaded_img {"image_id":"img-cat-2","image_size":1280}',
      'search: search_made {"query":"cat","n_results":2}',
    ]);
    // The timeline starts at the storefront and its offsets grow.
    expect(rows[0]!.service).toBe("storefront");
    expect(rows.every((r, i) => i === 0 || r.offset_ms >= rows[i - 1]!.offset_ms)).toBe(true);
  });

  it("creates an ID at the first service when the caller sends none, and the others continue it", async () => {
    const response = await fetch(`${services.storefront.url}/search?q=dog`);
    const id = response.headers.get("x-correlation-id")!;
    expect(id).toMatch(UUID);
    await pipeline.flush();
    const rows = buildTimeline(
      await traceLocal({
        s3: stack.s3.client,
        bucket: stack.bucket,
        correlationId: id,
        cacheDir: join(dir, "trace"),
      }),
    );
    expect(new Set(rows.filter((r) => r.kind === "log").map((r) => r.service))).toEqual(
      new Set(["storefront", "search", "images"]),
    );
  });
});
