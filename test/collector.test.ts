import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COLLECTOR_REFUSED_MESSAGE, COLLECTOR_STORED_MESSAGE } from "../contracts/collector-log.js";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { quarantineObjectKey, rawObjectKey } from "../contracts/storage-layout.js";
import { type CollectorLogger, collectorFromEnv, createCollector } from "../functions/collector/handler.js";
import { MAX_EVENT_BYTES, RETRY_AFTER_SECONDS } from "../functions/collector/limits.js";
import type { ValidEvent } from "../functions/collector/validate.js";
import { type LocalS3, localS3Client, startLocalS3 } from "../local/s3-server.js";
import { httpApiEvent, readNdjsonObject, readNdjsonObjects, restApiEvent } from "./collector-helpers.js";

const NOW = new Date("2026-11-22T15:30:00.000Z");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("collector against local S3", () => {
  let dir: string;
  let s3: LocalS3;
  const collector = () =>
    createCollector({
      s3: s3.client,
      bucket: s3.bucket,
      apiKeys: ["other-key", "test-key"],
      schemas: DEMO_EVENT_SCHEMAS,
      service: "pipeline",
      stage: "test",
      now: () => NOW,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-collector-"));
    s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("lands an HTTP API (v2) batch conformed, enriched and skew-corrected in one raw object", async () => {
    const requestId = "req-v2-accepted";
    // The client's clock runs 1 hour fast: sent_at and timestamp both carry the offset, which cancels out.
    const body = {
      sent_at: "2026-11-22T16:30:00.000Z",
      batch: [
        {
          event: "Downloaded img",
          user_id: 1234,
          event_id: "e-1",
          timestamp: "2026-11-22T16:29:50.000Z",
          properties: { imageId: "1d3x5", imageSize: 1365 },
          context: { service: "download-server", library: { name: "x" } },
        },
        {
          event: "search_made",
          anonymous_id: "anon-7",
          timestamp: Date.parse("2026-11-22T16:29:58.500Z"),
          properties: {
            query: "sunset beach",
            nResults: 42,
            filters: { ColorMode: "bw", tagList: [{ TagName: "sea" }] },
          },
        },
        { event: "Búsqueda hecha", user_id: "u-é", properties: { término: "café ☕", emoji: "📷" } },
      ],
    };
    const result = await collector().handler(
      httpApiEvent({ body, requestId, headers: { "x-correlation-id": "corr-abc" } }),
    );
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ accepted: 3, rejected: [] });
    expect(result.headers?.["x-correlation-id"]).toBe("corr-abc");

    const lines = await readNdjsonObject(s3.client, s3.bucket, rawObjectKey(NOW, requestId));
    expect(lines).toHaveLength(3);
    const [download, search, unicode] = lines!;
    expect(download).toEqual({
      event_id: "e-1",
      event: "downloaded_img",
      event_time: "2026-11-22T15:29:50.000Z",
      received_at: "2026-11-22T15:30:00.000Z",
      user_id: "1234",
      anonymous_id: null,
      correlation_id: "corr-abc",
      service: "download-server",
      stage: "test",
      properties: { image_id: "1d3x5", image_size: 1365 },
      context: {
        service: "download-server",
        library: { name: "x" },
        user_agent: "test-agent/1.0",
        ip: "203.0.113.7",
        request_id: requestId,
      },
      schema_version: 1,
      request_id: requestId,
    });
    expect(search.event_id).toMatch(UUID);
    expect(search.event_time).toBe("2026-11-22T15:29:58.500Z");
    expect(search.service).toBe("pipeline");
    expect(search.properties).toEqual({
      query: "sunset beach",
      n_results: 42,
      filters: { color_mode: "bw", tag_list: [{ tag_name: "sea" }] },
    });
    expect(search.schema_version).toBe(1);
    expect(unicode.event).toBe("busqueda_hecha");
    expect(unicode.properties).toEqual({ termino: "café ☕", emoji: "📷" });
    expect(unicode.schema_version).toBeNull();
    // Nothing was rejected, so no quarantine object.
    expect(await readNdjsonObject(s3.client, s3.bucket, quarantineObjectKey(NOW, requestId))).toBeUndefined();
  });

  it("reads a REST API (v1) event with a base64 gzip body and mixed-case headers", async () => {
    const requestId = "req-v1-gzip";
    const body = gzipSync(
      JSON.stringify({
        batch: [{ event: "uploaded_img", user_id: "9", properties: { image_id: "i-9", image_size: 9001 } }],
      }),
    );
    const result = await collector().handler(
      restApiEvent({ body, requestId, headers: { "Content-Encoding": "gzip" } }),
    );
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ accepted: 1, rejected: [] });
    const correlationId = result.headers?.["x-correlation-id"];
    expect(correlationId).toMatch(UUID);
    const [line] = (await readNdjsonObject(s3.client, s3.bucket, rawObjectKey(NOW, requestId)))!;
    expect(line).toMatchObject({
      event: "uploaded_img",
      user_id: "9",
      correlation_id: correlationId,
      event_time: NOW.toISOString(),
    });
    expect(line.context).toMatchObject({
      ip: "198.51.100.9",
      user_agent: "rest-agent/2.0",
      request_id: requestId,
    });
  });

  describe("correlation id per event", () => {
    const batch = [
      { event: "page_viewed", user_id: "u1", context: { correlation_id: "req-a" } },
      { event: "page_viewed", user_id: "u2", context: { correlation_id: "  req-b  " } },
      { event: "page_viewed", user_id: "u3" },
      // Invalid by the header's rule (a space inside; over 128 characters): replaced by the request's id.
      { event: "page_viewed", user_id: "u4", context: { correlation_id: "not an id" } },
      { event: "page_viewed", user_id: "u5", context: { correlation_id: "x".repeat(129) } },
      { event: "page_viewed", user_id: "u6", context: { correlation_id: 7 } },
    ];
    const stored = async (requestId: string, headers: Record<string, string>) => {
      const result = await collector().handler(httpApiEvent({ requestId, headers, body: { batch } }));
      expect(result.statusCode).toBe(200);
      expect(JSON.parse(result.body)).toEqual({ accepted: batch.length, rejected: [] });
      const lines = (await readNdjsonObject(s3.client, s3.bucket, rawObjectKey(NOW, requestId)))!;
      return { header: result.headers?.["x-correlation-id"], lines };
    };

    it("a valid x-correlation-id header wins over every event's own id (DESIGN.md contract)", async () => {
      const { header, lines } = await stored("req-corr-header", { "x-correlation-id": "batch-1" });
      expect(header).toBe("batch-1");
      expect(lines.map((line) => line.correlation_id)).toEqual(batch.map(() => "batch-1"));
      // The producer's context is kept as sent.
      expect(lines[0]!.context.correlation_id).toBe("req-a");
    });

    it("without a header each event keeps its own valid id; the rest (missing or invalid) get the generated one", async () => {
      const { header, lines } = await stored("req-corr-own", {});
      expect(header).toMatch(UUID);
      expect(lines.map((line) => line.correlation_id)).toEqual([
        "req-a",
        "req-b",
        header,
        header,
        header,
        header,
      ]);
      expect(lines[3]!.context.correlation_id).toBe("not an id");
    });

    it("an invalid header counts as none: the events' own ids are kept, the answer carries a new id", async () => {
      const { header, lines } = await stored("req-corr-bad-header", { "x-correlation-id": "y".repeat(129) });
      expect(header).toMatch(UUID);
      expect(lines.slice(0, 3).map((line) => line.correlation_id)).toEqual(["req-a", "req-b", header]);
    });
  });

  it("keeps good events and quarantines bad ones of the same batch, with reasons and the original payload", async () => {
    const requestId = "req-mixed";
    const bad = { event: "Search Made", user_id: "u1", properties: { query: "dogs", nResults: "many" } };
    const result = await collector().handler(
      httpApiEvent({
        requestId,
        body: {
          batch: [{ event: "search_made", user_id: "u1", properties: { query: "cats", n_results: 3 } }, bad],
        },
      }),
    );
    const answer = JSON.parse(result.body);
    expect(result.statusCode).toBe(200);
    expect(answer.accepted).toBe(1);
    expect(answer.rejected).toEqual([
      {
        index: 1,
        event_id: expect.stringMatching(UUID),
        errors: ["properties.n_results: must be integer (schema search_made v1)"],
      },
    ]);
    expect(await readNdjsonObject(s3.client, s3.bucket, rawObjectKey(NOW, requestId))).toHaveLength(1);
    const quarantined = await readNdjsonObject(s3.client, s3.bucket, quarantineObjectKey(NOW, requestId));
    expect(quarantined).toEqual([
      {
        quarantined_at: NOW.toISOString(),
        request_id: requestId,
        correlation_id: result.headers?.["x-correlation-id"],
        status: 200,
        index: 1,
        event_id: answer.rejected[0].event_id,
        // Named as the events table would name it; the payload keeps the event as sent.
        event: "search_made",
        reasons: answer.rejected[0].errors,
        payload: JSON.stringify(bad),
        payload_encoding: "json",
      },
    ]);
  });

  it("merges the batch's context under each event's own, for stored and quarantined events alike", async () => {
    const requestId = "req-batch-context";
    const batchContext = { library: { name: "observatory-tracker", version: "9.9.9" }, service: "Gallery" };
    const bad = { event: "search_made", user_id: "u3", properties: { query: "dogs", n_results: "many" } };
    const result = await collector().handler(
      httpApiEvent({
        requestId,
        body: {
          context: batchContext,
          batch: [
            { event: "search_made", user_id: "u1", properties: { query: "cats", n_results: 3 } },
            {
              event: "search_made",
              user_id: "u2",
              properties: { query: "owls", n_results: 1 },
              context: { service: "Search API", appBuild: 7 },
            },
            bad,
            { event: "search_made", user_id: "u4", properties: { query: "x", n_results: 0 }, context: "x" },
          ],
        },
      }),
    );
    const answer = JSON.parse(result.body);
    expect(answer.accepted).toBe(2);
    expect(answer.rejected.map((r: { index: number }) => r.index)).toEqual([2, 3]);
    // A context that is not an object is refused as it would be without a batch context.
    expect(answer.rejected[1].errors).toEqual(["context: must be object"]);
    const raw = (await readNdjsonObject(s3.client, s3.bucket, rawObjectKey(NOW, requestId)))!;
    // No context of its own: the batch's (service read from it), plus what the collector adds.
    expect(raw[0]).toMatchObject({ service: "Gallery" });
    expect(raw[0].context).toEqual({
      library: batchContext.library,
      service: "Gallery",
      user_agent: expect.any(String),
      ip: expect.any(String),
      request_id: requestId,
    });
    // Its own members win and are conformed; the batch's fill in the rest.
    expect(raw[1]).toMatchObject({ service: "Search API" });
    expect(raw[1].context).toMatchObject({
      library: batchContext.library,
      service: "Search API",
      app_build: 7,
    });
    const quarantined = (await readNdjsonObject(s3.client, s3.bucket, quarantineObjectKey(NOW, requestId)))!;
    // Quarantine keeps the event as validated: the batch's context merged in, so it replays alone.
    expect(JSON.parse(quarantined[0].payload)).toEqual({ ...bad, context: batchContext });
    expect(JSON.parse(quarantined[1].payload).context).toBe("x");
  });

  it("counts even an empty batch context in an event's size, as the merge gives it", async () => {
    const requestId = "req-batch-context-empty";
    // Just under the limit alone; merged with `"context":{}` (13 bytes more) just over it.
    const shell = { event: "upload", user_id: "u", event_id: "e-1", properties: { blob: "" } };
    const blob = "x".repeat(MAX_EVENT_BYTES - 5 - JSON.stringify(shell).length);
    const event = { ...shell, properties: { blob } };
    expect(JSON.stringify(event).length).toBe(MAX_EVENT_BYTES - 5);
    const result = await collector().handler(
      httpApiEvent({ requestId, body: { context: {}, batch: [event] } }),
    );
    const answer = JSON.parse(result.body);
    expect(answer.accepted).toBe(0);
    expect(answer.rejected[0].errors).toEqual([
      `event is ${MAX_EVENT_BYTES + 8} bytes; the limit is ${MAX_EVENT_BYTES} bytes per event`,
    ]);
    const quarantined = (await readNdjsonObject(s3.client, s3.bucket, quarantineObjectKey(NOW, requestId)))!;
    expect(JSON.parse(quarantined[0].payload)).toEqual({ ...event, context: {} });
  });

  it("refuses a __proto__ key in an event's own context also when a batch context is merged in", async () => {
    const requestId = "req-batch-context-proto";
    // As sent on the wire: JSON.parse makes "__proto__" an own key, which must stay a key (refused),
    // never become the merged context's prototype.
    const body = `{"context":{"service":"gallery"},"batch":[{"event":"page_viewed","user_id":"u1","context":{"__proto__":{"polluted":true},"app":"x"}}]}`;
    const result = await collector().handler(httpApiEvent({ requestId, body }));
    const answer = JSON.parse(result.body);
    expect(answer.accepted).toBe(0);
    expect(answer.rejected[0].errors).toEqual([
      'context.__proto__: key "__proto__" is not allowed (reserved to guard against prototype pollution)',
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("answers health without a key, and 401 / 404 / 405 without storing anything", async () => {
    const c = collector();
    const health = await c.handler(
      httpApiEvent({ method: "GET", path: "/v1/health", headers: { "x-api-key": "" } }),
    );
    expect([health.statusCode, JSON.parse(health.body)]).toEqual([200, { status: "ok" }]);
    expect((await c.handler(restApiEvent({ method: "GET", path: "/v1/health" }))).statusCode).toBe(200);

    const before = (await readNdjsonObjects(s3.client, s3.bucket, "")).length;
    const wrongKey = await c.handler(
      httpApiEvent({
        requestId: "req-401",
        headers: { "x-api-key": "test-kez" },
        body: { batch: [{ event: "a", user_id: "u" }] },
      }),
    );
    expect([wrongKey.statusCode, JSON.parse(wrongKey.body).error]).toEqual([
      401,
      "missing or invalid x-api-key header",
    ]);
    const noKey = await c.handler(httpApiEvent({ headers: { "x-api-key": "" }, body: { batch: [] } }));
    expect(noKey.statusCode).toBe(401);
    expect((await c.handler(httpApiEvent({ path: "/v2/other", body: "{}" }))).statusCode).toBe(404);
    expect((await c.handler(httpApiEvent({ method: "GET" }))).statusCode).toBe(405);
    expect((await readNdjsonObjects(s3.client, s3.bucket, "")).length).toBe(before);
  });

  it("routes under a named stage prefix (HTTP API rawPath includes it)", async () => {
    const result = await collector().handler(
      httpApiEvent({ path: "/prod/v1/batch", body: { batch: [{ event: "a", user_id: "u" }] } }),
    );
    expect(result.statusCode).toBe(200);
  });

  it("never lets __proto__ or constructor keys reach Object.prototype", async () => {
    const body =
      '{"batch":[{"event":"x","user_id":"u","properties":{"__proto__":{"polluted":"yes"},"a":{"constructor":{"prototype":{"polluted":"yes"}}}}},{"event":"y","user_id":"u","context":{"__proto__":{"isAdmin":true}}}]}';
    const result = await collector().handler(httpApiEvent({ body, requestId: "req-proto" }));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body).accepted).toBe(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, "polluted")).toBe(false);
    const quarantined = await readNdjsonObject(s3.client, s3.bucket, quarantineObjectKey(NOW, "req-proto"));
    expect(quarantined?.map((q) => q.reasons.join(" "))).toEqual([
      expect.stringContaining('properties.__proto__: key "__proto__" is not allowed'),
      expect.stringContaining('context.__proto__: key "__proto__" is not allowed'),
    ]);
    expect(quarantined![0].reasons.join(" ")).toContain('key "constructor" is not allowed');
  });

  it("answers 503 with Retry-After when S3 is down, and leaves nothing in raw", async () => {
    const down = await startLocalS3({ directory: join(dir, "s3-down"), port: 0 });
    const { port, endpoint } = down;
    await down.close();
    const client = localS3Client(endpoint);
    // A real connection refusal (the SDK's own retries run too), not a simulated error.
    const c = createCollector({ s3: client, bucket: down.bucket, apiKeys: ["test-key"], now: () => NOW });
    const result = await c.handler(
      httpApiEvent({ requestId: "req-503", body: { batch: [{ event: "a", user_id: "u" }, { event: 5 }] } }),
    );
    expect(result.statusCode).toBe(503);
    expect(result.headers?.["retry-after"]).toBe(String(RETRY_AFTER_SECONDS));
    expect(JSON.parse(result.body).error).toMatch(/storage is unavailable/);
    client.destroy();
    // Back up on the same data: no raw object, and no quarantine for a batch the client will resend.
    const back = await startLocalS3({ directory: join(dir, "s3-down"), port });
    try {
      expect(await readNdjsonObjects(back.client, back.bucket, "raw/")).toEqual([]);
      expect(await readNdjsonObjects(back.client, back.bucket, "quarantine/")).toEqual([]);
    } finally {
      await back.close();
    }
  });

  it("answers a bad body 400 even when its quarantine write fails, and logs the record instead", async () => {
    const failing = new S3Client({});
    failing.send = (async () => {
      throw Object.assign(new Error("SlowDown"), { name: "SlowDown" });
    }) as unknown as S3Client["send"];
    const logged: Record<string, unknown>[] = [];
    const logger: CollectorLogger = { info() {}, error: (_m, extra) => logged.push(extra ?? {}) };
    const c = createCollector({ s3: failing, bucket: "b", apiKeys: ["test-key"], now: () => NOW, logger });
    const result = await c.handler(httpApiEvent({ body: "{not json" }));
    expect(result.statusCode).toBe(400);
    expect(logged).toHaveLength(1);
    expect(logged[0]!.quarantine_records).toEqual([
      expect.objectContaining({ payload: "{not json", status: 400 }),
    ]);
  });

  it("keeps accepted events when only the quarantine write fails (200, rejected items logged)", async () => {
    // Storage refuses quarantine keys only; raw goes to the real local S3.
    const partial = localS3Client(s3.endpoint);
    const realSend = partial.send.bind(partial);
    partial.send = ((command: PutObjectCommand) => {
      if (command instanceof PutObjectCommand && command.input.Key?.startsWith("quarantine/"))
        return Promise.reject(new Error("AccessDenied"));
      return realSend(command);
    }) as unknown as S3Client["send"];
    const logged: Record<string, unknown>[] = [];
    const c = createCollector({
      s3: partial,
      bucket: s3.bucket,
      apiKeys: ["test-key"],
      now: () => NOW,
      logger: { info() {}, error: (_m, e) => logged.push(e ?? {}) },
    });
    const result = await c.handler(
      httpApiEvent({
        requestId: "req-partial",
        body: { batch: [{ event: "a", user_id: "u" }, { event: "b" }] },
      }),
    );
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body).accepted).toBe(1);
    expect(await readNdjsonObject(s3.client, s3.bucket, rawObjectKey(NOW, "req-partial"))).toHaveLength(1);
    expect(logged[0]!.quarantine_records).toEqual([
      expect.objectContaining({ index: 1, reasons: ["user_id or anonymous_id is required"] }),
    ]);
    partial.destroy();
  });
});

describe("collector configured from the environment", () => {
  // The env-built collector logs with Powertools; keep the test output readable.
  process.env.OBSERVATORY_LOG_LEVEL = "CRITICAL";
  it("reads keys, schemas, service and stage from env", async () => {
    const env = {
      OBSERVATORY_BUCKET: "bucket",
      OBSERVATORY_API_KEYS: "k1, k2",
      OBSERVATORY_EVENT_SCHEMAS: JSON.stringify(DEMO_EVENT_SCHEMAS),
      OBSERVATORY_SERVICE: "svc",
      OBSERVATORY_STAGE: "dev",
    };
    const c = await collectorFromEnv(env, { s3: new S3Client({ region: "us-east-1" }) });
    // k2 is accepted (the body is then refused as JSON, before any storage call matters).
    const bad = await c.handler(
      httpApiEvent({ headers: { "x-api-key": "k2", "content-type": "text/plain" }, body: "x" }),
    );
    expect(bad.statusCode).toBe(415);
    expect((await c.handler(httpApiEvent({ headers: { "x-api-key": "k3" }, body: "x" }))).statusCode).toBe(
      401,
    );
  });

  it("logs one structured line per request with the counts MetricPipeline's metric filters read", async () => {
    const { captureLogLines } = await import("../runtime/log-output.js");
    const dir = await mkdtemp(join(tmpdir(), "obs-collector-log-"));
    const s3 = await startLocalS3({ directory: dir, port: 0 });
    const level = process.env.OBSERVATORY_LOG_LEVEL;
    delete process.env.OBSERVATORY_LOG_LEVEL;
    try {
      const c = await collectorFromEnv(
        {
          OBSERVATORY_BUCKET: s3.bucket,
          OBSERVATORY_API_KEYS: "k",
          OBSERVATORY_SERVICE: "metrics",
          OBSERVATORY_STAGE: "dev",
        },
        { s3: s3.client },
      );
      const lines: string[] = [];
      await captureLogLines(
        (line) => lines.push(line),
        async () => {
          await c.handler(
            httpApiEvent({
              headers: { "x-api-key": "k", "x-correlation-id": "corr-log" },
              body: { batch: [{ event: "a", user_id: "u" }, { event: "b" }] },
            }),
          );
          await c.handler(
            httpApiEvent({ headers: { "x-api-key": "k", "x-correlation-id": "corr-bad" }, body: "{" }),
          );
        },
      );
      const parsed = lines.map((line) => JSON.parse(line));
      expect(parsed).toEqual([
        expect.objectContaining({
          level: "INFO",
          message: COLLECTOR_STORED_MESSAGE,
          accepted: 1,
          rejected: 1,
          correlation_id: "corr-log",
          service: "metrics",
        }),
        expect.objectContaining({
          level: "INFO",
          message: COLLECTOR_REFUSED_MESSAGE,
          status: 400,
          correlation_id: "corr-bad",
        }),
      ]);
    } finally {
      process.env.OBSERVATORY_LOG_LEVEL = level;
      await s3.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("reads API keys from the Secrets Manager secret (JSON array)", async () => {
    const secrets = mockClient(SecretsManagerClient);
    secrets
      .on(GetSecretValueCommand, { SecretId: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys" })
      .resolves({ SecretString: '["s-key"]' });
    const env = {
      OBSERVATORY_BUCKET: "bucket",
      OBSERVATORY_API_KEYS_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keys",
    };
    const c = await collectorFromEnv(env, {
      secrets: new SecretsManagerClient({ region: "eu-west-1" }),
      s3: new S3Client({ region: "us-east-1" }),
    });
    expect(
      (
        await c.handler(
          httpApiEvent({ headers: { "x-api-key": "s-key", "content-type": "text/plain" }, body: "x" }),
        )
      ).statusCode,
    ).toBe(415);
    expect(
      (await c.handler(httpApiEvent({ headers: { "x-api-key": "test-key" }, body: "x" }))).statusCode,
    ).toBe(401);
    secrets.on(GetSecretValueCommand).resolves({ SecretString: "not json" });
    await expect(
      collectorFromEnv(env, { secrets: new SecretsManagerClient({ region: "eu-west-1" }) }),
    ).rejects.toThrow(/JSON array of API keys/);
    secrets.restore();
  });

  it("fails loudly naming the missing variable", async () => {
    await expect(collectorFromEnv({})).rejects.toThrow("OBSERVATORY_BUCKET is not set");
    await expect(collectorFromEnv({ OBSERVATORY_BUCKET: "b" })).rejects.toThrow(/no API key is configured/);
    await expect(
      collectorFromEnv({
        OBSERVATORY_BUCKET: "b",
        OBSERVATORY_API_KEYS: "k",
        OBSERVATORY_EVENT_SCHEMAS: "[{",
      }),
    ).rejects.toThrow(/OBSERVATORY_EVENT_SCHEMAS is not valid JSON/);
  });
});

describe("raw line encoder", () => {
  it("writes exactly JSON.stringify(toRawRecord(...)) for every shape of event", async () => {
    const { rawRecordEncoder, toRawRecord } = await import("../functions/collector/enrich.js");
    const facts = {
      receivedAt: NOW,
      receivedAtIso: NOW.toISOString(),
      requestId: 'r-"1"',
      correlationId: "c\u00e9",
      correlationFromHeader: true,
      userAgent: null,
      ip: "::1",
      service: "svc",
      stage: null,
    };
    const encode = rawRecordEncoder(facts);
    const base = {
      eventId: "e",
      event: "a",
      eventTimeMs: NOW.getTime() - 1,
      userId: null,
      anonymousId: "x",
      schemaVersion: null,
    };
    const events: ValidEvent[] = [
      { ...base, properties: {}, context: {} },
      {
        ...base,
        properties: { q: "line\nbreak \u2028", n: 1.5, deep: [{ a: null }] },
        context: { service: "app", stage: "prod", library: { name: "t" } },
        schemaVersion: 2,
      },
      // Client context naming keys the collector sets: the collector's values win, once each.
      {
        ...base,
        userId: "u",
        properties: { a: 1 },
        context: { ip: "spoofed", user_agent: "client", other: true },
      },
      { ...base, properties: {}, context: { service: "" } },
      // Per-event correlation ids: valid, needing JSON escaping is impossible (printable ASCII), invalid.
      { ...base, properties: {}, context: { correlation_id: "req-\\7" } },
      { ...base, properties: {}, context: { correlation_id: "has space" } },
      { ...base, properties: {}, context: { correlation_id: 42 } },
    ];
    for (const someFacts of [facts, { ...facts, correlationFromHeader: false }]) {
      const encodeThese = someFacts === facts ? encode : rawRecordEncoder(someFacts);
      for (const event of events) {
        const line = encodeThese(event);
        expect(line).toBe(JSON.stringify(toRawRecord(event, someFacts)));
        expect(JSON.parse(line)).toEqual(toRawRecord(event, someFacts));
      }
    }
    expect(JSON.parse(encode(events[4]!)).correlation_id).toBe("c\u00e9");
    const perEvent = rawRecordEncoder({ ...facts, correlationFromHeader: false });
    expect(JSON.parse(perEvent(events[4]!)).correlation_id).toBe("req-\\7");
    expect(JSON.parse(perEvent(events[5]!)).correlation_id).toBe("c\u00e9");
    expect(JSON.parse(encode(events[2]!)).context).toEqual({
      ip: "::1",
      user_agent: null,
      other: true,
      request_id: 'r-"1"',
    });
  });
});
