import { Console } from "node:console";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { gzipSync } from "node:zlib";
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { Client } from "@opensearch-project/opensearch";
import type { CloudWatchLogsDecodedData } from "aws-lambda";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOGS_COLUMNS } from "../contracts/logs-table.js";
import { consumeSubscription } from "../functions/log-consumer/consume.js";
import { encodeSubscriptionPayload } from "../local/log-delivery.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { runWithCorrelation } from "../runtime/correlation-context.js";
import { Logger } from "../runtime/logger.js";

// AWS's published sample subscription delivery (Lambda developer guide / Powertools parser docs).
const AWS_SAMPLE_EVENT = {
  awslogs: {
    data: "H4sIAAAAAAAAAHWPwQqCQBCGX0Xm7EFtK+smZBEUgXoLCdMhFtKV3akI8d0bLYmibvPPN3wz00CJxmQnTO41whwWQRIctmEcB6sQbFC3CjW3XW8kxpOpP+OC22d1Wml1qZkQGtoMsScxaczKN3plG8zlaHIta5KqWsozoTYw3/djzwhpLwivWFGHGpAFe7DL68JlBUk+l7KSN7tCOEJ4M3/qOI49vMHj+zCKdlFqLaU2ZHV2a4Ct/an0/ivdX8oYc1UVX860fQDQiMdxRQEAAA==",
  },
};

/** Lines really written by a logger, captured from its output stream. */
function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split("\n")) if (line.trim()) lines.push(line);
      cb();
    },
  });
  return { stream, lines };
}

/** A JSON log line with its own time (`timestamp` as ISO text, or pino's `time` in epoch ms) set to `iso`. */
function atDeliveryTime(line: string, iso: string): string {
  const record = JSON.parse(line) as Record<string, unknown>;
  if ("timestamp" in record) record.timestamp = iso;
  else if ("time" in record) record.time = Date.parse(iso);
  else throw new Error(`no time in ${line}`);
  return JSON.stringify(record);
}

function delivery(
  logGroup: string,
  logStream: string,
  messages: string[],
  start = Date.UTC(2026, 10, 22, 12, 0, 0),
): CloudWatchLogsDecodedData {
  return {
    messageType: "DATA_MESSAGE",
    owner: "111122223333",
    logGroup,
    logStream,
    subscriptionFilters: ["observatory"],
    logEvents: messages.map((message, i) => ({
      id: `${start + i}00000000000000000000000000000000000000${String(i).padStart(3, "0")}`,
      timestamp: start + i,
      message,
    })),
  };
}

describe("log consumer", () => {
  let dir: string;
  let s3: LocalS3;
  let duck: DuckDBInstance;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-logcons-"));
    s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0, bucket: "archive" });
    duck = await DuckDBInstance.create(":memory:");
  });
  afterAll(async () => {
    await s3?.close();
    duck?.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  const deps = () => ({ s3: s3.client, bucket: s3.bucket, now: () => new Date("2026-11-22T12:30:00Z") });

  async function keys(prefix: string): Promise<string[]> {
    const out = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
    return (out.Contents ?? []).map((o) => o.Key!).sort();
  }
  async function text(key: string): Promise<string> {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    return got.Body!.transformToString();
  }
  async function parquetRows(key: string): Promise<Record<string, unknown>[]> {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    const file = join(dir, `${Math.random().toString(36).slice(2)}.parquet`);
    await writeFile(file, await got.Body!.transformToByteArray());
    const connection = await duck.connect();
    const reader = await connection.runAndReadAll(
      `SELECT * FROM read_parquet('${file}') ORDER BY time, log_id`,
    );
    const rows = reader.getRowObjectsJS() as Record<string, unknown>[];
    connection.closeSync();
    return rows;
  }

  it("archives AWS's sample delivery as two ERROR rows with the contract's columns", async () => {
    const result = await consumeSubscription(AWS_SAMPLE_EVENT, deps());
    expect(result).toMatchObject({ status: "data", rows: 2, quarantined: [] });
    expect(result.objects).toHaveLength(1);
    expect(result.objects[0]).toMatch(
      /^tables\/logs\/dt=2015-08-24\/service=testLogGroup\/[0-9a-f]{32}\.parquet$/,
    );
    const rows = await parquetRows(result.objects[0]!);
    expect(Object.keys(rows[0]!)).toEqual(LOGS_COLUMNS.map((c) => c.name));
    expect(rows.map((r) => [r.log_id, r.level, r.message, r.account_id, r.log_group, r.kind])).toEqual([
      ["eventId1", "ERROR", "[ERROR] First test message", "123456789123", "testLogGroup", "text"],
      ["eventId2", "ERROR", "[ERROR] Second test message", "123456789123", "testLogGroup", "text"],
    ]);
    expect((rows[0]!.time as Date).getTime()).toBe(1440442987000);
  });

  it("overwrites rather than duplicates when the same delivery is consumed again (Lambda retry)", async () => {
    const before = await keys("tables/logs/dt=2015-08-24/");
    const again = await consumeSubscription(AWS_SAMPLE_EVENT, deps());
    expect(await keys("tables/logs/dt=2015-08-24/")).toEqual(before);
    expect(again.objects).toEqual(before);
    expect(await parquetRows(before[0]!)).toHaveLength(2);
  });

  it("skips CONTROL_MESSAGE deliveries without writing anything", async () => {
    const control = encodeSubscriptionPayload({
      messageType: "CONTROL_MESSAGE",
      owner: "CloudwatchLogs",
      logGroup: "",
      logStream: "",
      subscriptionFilters: [],
      logEvents: [
        {
          id: "",
          timestamp: 1440442987000,
          message: "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        },
      ],
    });
    const before = await keys("");
    expect(await consumeSubscription(control, deps())).toMatchObject({
      status: "control",
      rows: 0,
      objects: [],
    });
    expect(await keys("")).toEqual(before);
  });

  it("quarantines garbage, truncated gzip and non-payloads with the reason, never throwing", async () => {
    const full = gzipSync(JSON.stringify(delivery("/aws/lambda/x", "s", ["hello"])));
    const cases: [unknown, RegExp][] = [
      [{ awslogs: { data: "this is not base64 gzip!!" } }, /not base64 gzip/],
      [
        { awslogs: { data: full.subarray(0, full.length - 12).toString("base64") } },
        /not base64 gzip: unexpected end of file/,
      ],
      [{ awslogs: { data: gzipSync("[1,2").toString("base64") } }, /not JSON/],
      [
        { awslogs: { data: gzipSync('{"messageType":"DATA_MESSAGE"}').toString("base64") } },
        /without logGroup/,
      ],
      [{ hello: "world" }, /missing/],
      [null, /missing/],
    ];
    for (const [event, reason] of cases) {
      const result = await consumeSubscription(event, deps());
      expect(result.status).toBe("quarantined");
      const stored = JSON.parse(await text(result.quarantined[0]!)) as { reasons: string[]; payload: string };
      expect(stored.reasons[0]).toMatch(reason);
      const original =
        (event as { awslogs?: { data?: string } } | null)?.awslogs?.data ?? JSON.stringify(event);
      expect(stored.payload).toBe(original);
    }
  });

  it("parses ours, Powertools, pino, Node console, platform and plain text lines of one stream", async () => {
    const ours = capture();
    const logger = new Logger({ service: "checkout", stage: "dev", destination: ours.stream });
    runWithCorrelation(
      {
        correlationId: "corr-mixed-1",
        functionRequestId: "6f3b2c1a-1111-4222-8333-444455556666",
        functionName: "checkout-fn",
        coldStart: true,
      },
      () => {
        logger.info("order placed", { order_id: "o-1", password: "hunter2" });
      },
    );
    const pt = capture();
    const powertools = new PowertoolsLogger({ serviceName: "payments" });
    (powertools as unknown as { console: Console }).console = new Console({
      stdout: pt.stream,
      stderr: pt.stream,
    });
    powertools.warn("card declined", { attempt: 2 });
    const pn = capture();
    pino({ base: { service: "inventory" } }, pn.stream).error(
      { correlationId: "corr-pino-1", sku: "A1" },
      "out of stock",
    );
    const requestId = "6f3b2c1a-1111-4222-8333-444455556666";
    const longMessage = "x".repeat(200_000);
    const messages = [
      `START RequestId: ${requestId} Version: $LATEST`,
      // The three loggers stamp their lines with the real clock: set to the delivery's time, so that
      // every line falls in the delivery's day (partitions are by day) whatever day the test runs.
      atDeliveryTime(ours.lines[0]!, "2026-11-22T12:00:00.001Z"),
      atDeliveryTime(pt.lines[0]!, "2026-11-22T12:00:00.002Z"),
      atDeliveryTime(pn.lines[0]!, "2026-11-22T12:00:00.003Z"),
      `2026-11-22T12:00:00.004Z\t${requestId}\tINFO\tplain console line`,
      "just some text",
      '{"level":"INFO","message":"trunc',
      longMessage,
      `END RequestId: ${requestId}`,
      `REPORT RequestId: ${requestId}\tDuration: 102.34 ms\tBilled Duration: 103 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\tInit Duration: 150.12 ms\t\n`,
      JSON.stringify({
        time: "2026-11-22T12:00:00.011Z",
        type: "platform.report",
        record: {
          requestId,
          metrics: { durationMs: 5.5, billedDurationMs: 6, memorySizeMB: 256, maxMemoryUsedMB: 80 },
        },
      }),
    ];
    const result = await consumeSubscription(
      encodeSubscriptionPayload(delivery("/aws/lambda/checkout-fn", "2026/11/22/[$LATEST]abc", messages)),
      deps(),
    );
    expect(result.status).toBe("data");
    expect(result.rows).toBe(messages.length);
    const all = (await Promise.all(result.objects.map(parquetRows))).flat();
    const byMessage = (m: string) => all.find((r) => r.message === m)!;

    const own = byMessage("order placed");
    expect(own).toMatchObject({
      kind: "json",
      level: "INFO",
      correlation_id: "corr-mixed-1",
      function_name: "checkout-fn",
      function_request_id: requestId,
      cold_start: true,
      stage: "dev",
    });
    expect(JSON.parse(own.fields as string)).toEqual({ order_id: "o-1", password: "[REDACTED]" });
    expect(byMessage("card declined")).toMatchObject({ kind: "json", level: "WARN" });
    expect(JSON.parse(byMessage("card declined").fields as string)).toMatchObject({ attempt: 2 });
    expect(byMessage("out of stock")).toMatchObject({
      kind: "json",
      level: "ERROR",
      correlation_id: "corr-pino-1",
    });
    expect(byMessage("plain console line")).toMatchObject({
      kind: "text",
      level: "INFO",
      function_request_id: requestId,
    });
    expect(byMessage("just some text")).toMatchObject({ kind: "text", level: null });
    expect(byMessage('{"level":"INFO","message":"trunc')).toMatchObject({ kind: "text" });
    expect((byMessage(longMessage).message as string).length).toBe(200_000);

    const report = all.find((r) => r.kind === "platform" && (r.message as string).startsWith("REPORT"))!;
    expect(report).toMatchObject({
      function_request_id: requestId,
      duration_ms: 102.34,
      billed_duration_ms: 103,
      memory_size_mb: 128,
      max_memory_used_mb: 70,
      init_duration_ms: 150.12,
    });
    // The platform lines name only the request; the request's own lines name corr-mixed-1, so they get it.
    expect(report.correlation_id).toBe("corr-mixed-1");
    const jsonReport = all.find((r) => r.kind === "platform" && r.duration_ms === 5.5)!;
    expect(jsonReport).toMatchObject({ billed_duration_ms: 6, memory_size_mb: 256, max_memory_used_mb: 80 });

    // Partitions: by the service each line names; lines that name none take the delivery's first service.
    expect(result.objects.map((k) => /service=([^/]+)/.exec(k)![1]).sort()).toEqual([
      "checkout",
      "inventory",
      "payments",
    ]);
    const checkout = await parquetRows(result.objects.find((k) => k.includes("service=checkout/"))!);
    expect(checkout.map((r) => r.message)).toContain(`END RequestId: ${requestId}`);
    expect(checkout.map((r) => r.message)).not.toContain("out of stock");
    expect(all.every((r) => !("service" in r))).toBe(true); // a partition column: in the key, not in the file
  });

  it("quarantines malformed log events but archives the good ones", async () => {
    const data = delivery("/aws/lambda/bad-events", "s1", ["good line"]);
    (data.logEvents as unknown[]).push(
      { id: "x", timestamp: "yesterday", message: "bad ts" },
      { id: "y", timestamp: 1 },
    );
    const result = await consumeSubscription(encodeSubscriptionPayload(data), deps());
    expect(result.rows).toBe(1);
    expect(result.objects[0]).toMatch(/service=bad-events\//);
    const stored = JSON.parse(await text(result.quarantined[0]!)) as { events: unknown[] };
    expect(stored.events).toEqual([
      { id: "x", timestamp: "yesterday", message: "bad ts" },
      { id: "y", timestamp: 1 },
    ]);
  });

  it("puts every line of a LogCentralizer-subscribed group in the service its filter names", async () => {
    const data = delivery("/aws/lambda/images-resize-x1y2", "s9", [
      '{"level":"INFO","message":"resized","service":"something-else"}',
      "END RequestId: 0f0e0d0c-0000-4000-8000-000000000000",
    ]);
    data.subscriptionFilters = ["observatory-logs.service=images"];
    const result = await consumeSubscription(encodeSubscriptionPayload(data), deps());
    expect(result.objects).toHaveLength(1);
    expect(result.objects[0]).toMatch(/^tables\/logs\/dt=2026-11-22\/service=images\//);
    expect((await parquetRows(result.objects[0]!)).map((r) => r.message)).toEqual([
      "resized",
      "END RequestId: 0f0e0d0c-0000-4000-8000-000000000000",
    ]);
  });

  it("keeps a line whose own timestamp is absurd at its ingestion time (never an unreadable partition, never a crash)", async () => {
    const data = delivery("/aws/lambda/clock", "s10", [
      '{"level":"INFO","message":"year 1970","timestamp":"1970-01-01T00:00:00.000Z","service":"clock"}',
      '{"level":"INFO","message":"year 275760","time":8640000000000000,"service":"clock"}',
      '{"level":"INFO","message":"an hour early","timestamp":"2026-11-22T11:00:00.000Z","service":"clock"}',
    ]);
    const result = await consumeSubscription(encodeSubscriptionPayload(data), deps());
    expect(result.objects).toEqual([expect.stringMatching(/^tables\/logs\/dt=2026-11-22\/service=clock\//)]);
    const rows = await parquetRows(result.objects[0]!);
    const at = (m: string) => (rows.find((r) => r.message === m)!.time as Date).toISOString();
    expect(at("year 1970")).toBe("2026-11-22T12:00:00.000Z");
    expect(at("year 275760")).toBe("2026-11-22T12:00:00.001Z");
    expect(at("an hour early")).toBe("2026-11-22T11:00:00.000Z");
  });

  it("archives lines with a lone UTF-16 surrogate, NUL, ANSI colours and emoji (one odd line failed the whole delivery)", async () => {
    const data = delivery("/aws/lambda/odd", "s11", [
      '{"level":"INFO","message":"half a pair \\ud800 here","service":"odd"}',
      "nul \u0000 byte",
      "\u001b[31mred\u001b[0m",
      "emoji \u{1F600} ok",
    ]);
    const result = await consumeSubscription(encodeSubscriptionPayload(data), deps());
    expect(result.rows).toBe(4);
    const messages = (await parquetRows(result.objects[0]!)).map((r) => r.message);
    expect(messages).toEqual([
      "half a pair \ufffd here",
      "nul \u0000 byte",
      "\u001b[31mred\u001b[0m",
      "emoji \u{1F600} ok",
    ]);
  });

  describe("with OpenSearch", () => {
    let server: Server;
    const requests: string[] = [];
    beforeAll(async () => {
      // Speaks the _bulk response shape; refuses documents whose message contains "reject me".
      server = createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
          requests.push(`${req.method} ${req.url}`);
          const lines = body
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { index: { _index: string; _id: string }; message: string });
          const items = [];
          for (let i = 0; i < lines.length; i += 2) {
            const action = lines[i]!.index;
            const doc = lines[i + 1]!;
            items.push(
              String(doc.message).includes("reject me")
                ? {
                    index: {
                      _index: action._index,
                      _id: action._id,
                      status: 400,
                      error: { type: "mapper_parsing_exception", reason: "failed to parse field [fields]" },
                    },
                  }
                : {
                    index: {
                      _index: action._index,
                      _id: action._id,
                      _version: 1,
                      result: "created",
                      status: 201,
                    },
                  },
            );
          }
          res.setHeader("content-type", "application/json");
          res.end(JSON.stringify({ took: 3, errors: items.some((it) => it.index.status >= 300), items }));
        });
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it("bulk-indexes rows and backs up the documents OpenSearch refused to S3", async () => {
      const opensearch = new Client({ node: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      const data = delivery("/aws/lambda/search-fn", "s2", [
        '{"level":"INFO","message":"fine","service":"search"}',
        '{"level":"INFO","message":"please reject me","service":"search"}',
      ]);
      const result = await consumeSubscription(encodeSubscriptionPayload(data), { ...deps(), opensearch });
      expect(requests).toEqual(["POST /_bulk"]);
      expect(result.opensearch).toEqual({ indexed: 1, failed: 1 });
      expect(result.objects).toHaveLength(1); // the archive has both lines whatever OpenSearch said
      const backup = (await text(result.quarantined[0]!)).split("\n").map((l) => JSON.parse(l));
      expect(backup).toHaveLength(1);
      expect(backup[0]).toMatchObject({
        index: "logs-2026.11.22",
        id: data.logEvents[1]!.id,
        status: 400,
        document: { message: "please reject me" },
      });
      expect(backup[0].error).toMatch(/mapper_parsing_exception/);
    });

    it("backs up every document when OpenSearch cannot be reached", async () => {
      const opensearch = new Client({ node: "http://127.0.0.1:9" });
      const data = delivery("/aws/lambda/search-fn", "s3", [
        '{"level":"INFO","message":"a","service":"search"}',
      ]);
      const result = await consumeSubscription(encodeSubscriptionPayload(data), { ...deps(), opensearch });
      expect(result.opensearch).toEqual({ indexed: 0, failed: 1 });
      expect(await text(result.quarantined[0]!)).toMatch(/bulk request failed/);
    });
  });
});
