import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderTimeline, runTrace } from "../cli/commands/trace.js";
import type { RawEventRecord } from "../contracts/event-record.js";
import { EVENTS_COLUMNS } from "../contracts/events-table.js";
import { rawObjectKey } from "../contracts/storage-layout.js";
import { STATE_KEY } from "../functions/compaction/keys.js";
import type { CompactionState } from "../functions/compaction/state.js";
import { consumeSubscription } from "../functions/log-consumer/consume.js";
import { encodeSubscriptionPayload } from "../local/log-delivery.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { stackFilePath } from "../local/stack-file.js";
import { traceAthena, traceSql } from "../trace/athena-trace.js";
import { traceLocal } from "../trace/local-trace.js";
import { buildTimeline } from "../trace/timeline.js";

const T0 = Date.UTC(2026, 10, 22, 9, 15, 0, 0);
const NOW = new Date(Date.UTC(2026, 10, 22, 18, 0, 0));
const ID = "7d0c1e55-0f7a-4d4e-9a39-5b1f0c2a1b11";
const OTHER = "0b9d7a62-1d2c-4e55-8a0f-1f2e3d4c5b6a";

let nextId = 1;
function delivery(fn: string, lines: [number, string][]) {
  return encodeSubscriptionPayload({
    messageType: "DATA_MESSAGE",
    owner: "000000000000",
    logGroup: `/aws/lambda/${fn}`,
    logStream: `2026/11/22/[$LATEST]${fn}`,
    subscriptionFilters: ["observatory-local"],
    logEvents: lines.map(([at, message]) => ({
      id: String(nextId++).padStart(56, "0"),
      timestamp: T0 + at,
      message,
    })),
  });
}
const line = (
  at: number,
  service: string,
  fn: string,
  message: string,
  correlationId: string,
  requestId: string,
  level = "INFO",
) =>
  JSON.stringify({
    level,
    message,
    timestamp: new Date(T0 + at).toISOString(),
    service,
    correlation_id: correlationId,
    function_name: fn,
    function_request_id: requestId,
  });

function rawEvent(
  eventId: string,
  event: string,
  at: number,
  correlationId: string,
  service: string,
  properties: Record<string, unknown>,
): RawEventRecord {
  return {
    event_id: eventId,
    event,
    event_time: new Date(T0 + at).toISOString(),
    received_at: new Date(T0 + at + 5).toISOString(),
    user_id: "u-42",
    anonymous_id: null,
    correlation_id: correlationId,
    service,
    stage: "dev",
    properties,
    context: { function_name: `${service}-fn`, library: { name: "observatory" } },
    schema_version: 1,
    request_id: "req-1",
  };
}

describe("observatory trace", () => {
  let dir: string;
  let s3: LocalS3;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-trace-"));
    s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
    const deps = { s3: s3.client, bucket: s3.bucket };
    // Three services of one request (and a line of another request in between), through the real consumer.
    await consumeSubscription(
      delivery("storefront-fn", [
        [0, "START RequestId: aaaaaaaa-0000-4000-8000-000000000001 Version: $LATEST"],
        [
          1,
          line(
            1,
            "storefront",
            "storefront-fn",
            "GET /search received",
            ID,
            "aaaaaaaa-0000-4000-8000-000000000001",
          ),
        ],
        [
          2,
          line(
            2,
            "storefront",
            "storefront-fn",
            "someone else's request",
            OTHER,
            "aaaaaaaa-0000-4000-8000-000000000002",
          ),
        ],
        [
          90,
          line(
            90,
            "storefront",
            "storefront-fn",
            "responding 200",
            ID,
            "aaaaaaaa-0000-4000-8000-000000000001",
          ),
        ],
        [91, "END RequestId: aaaaaaaa-0000-4000-8000-000000000001"],
        [
          92,
          "REPORT RequestId: aaaaaaaa-0000-4000-8000-000000000001\tDuration: 91.00 ms\tBilled Duration: 92 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t",
        ],
      ]),
      deps,
    );
    await consumeSubscription(
      delivery("search-fn", [
        [
          10,
          line(
            10,
            "search",
            "search-fn",
            "searching catalog",
            ID,
            "bbbbbbbb-0000-4000-8000-000000000001",
            "DEBUG",
          ),
        ],
      ]),
      deps,
    );
    await consumeSubscription(
      delivery("images-fn", [
        [
          40,
          line(
            40,
            "images",
            "images-fn",
            "thumbnail missing",
            ID,
            "cccccccc-0000-4000-8000-000000000001",
            "WARN",
          ),
        ],
      ]),
      deps,
    );

    // Events: one compacted (Parquet, also still in raw: shown once), one only in the raw zone, one of another request.
    const events = [
      rawEvent("e-1", "search_made", 20, ID, "search", { query: "cats", n_results: 3 }),
      rawEvent("e-2", "downloaded_img", 50, ID, "images", { image_id: "img-9", image_size: 2048 }),
      rawEvent("e-3", "search_made", 21, OTHER, "search", { query: "dogs", n_results: 0 }),
    ];
    await s3.client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: rawObjectKey(new Date(T0), "req-1"),
        Body: gzipSync(events.map((e) => JSON.stringify(e)).join("\n")),
      }),
    );
    const ndjson = join(dir, "compacted.ndjson");
    await writeFile(
      ndjson,
      JSON.stringify({
        ...events[0],
        properties: JSON.stringify(events[0]!.properties),
        context: JSON.stringify(events[0]!.context),
      }),
    );
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    const select = EVENTS_COLUMNS.map((col) => `CAST(${col.name} AS ${col.duckdbType}) AS ${col.name}`).join(
      ", ",
    );
    await c.run(
      `COPY (SELECT ${select} FROM read_json('${ndjson}', format='newline_delimited')) TO '${join(dir, "events.parquet")}' (FORMAT parquet)`,
    );
    c.closeSync();
    db.closeSync();
    await s3.client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "tables/events/dt=2026-11-22/hour=09/part-0.parquet",
        Body: await readFile(join(dir, "events.parquet")),
      }),
    );
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("shows every line and event of the request across services, in order, with offsets", async () => {
    const entries = await traceLocal({
      s3: s3.client,
      bucket: s3.bucket,
      correlationId: ID,
      cacheDir: join(dir, "cache"),
      now: NOW,
    });
    const rows = buildTimeline(entries);
    expect(rows.map((r) => [r.offset_ms, r.service, r.kind, r.level, r.message.split("\t")[0]])).toEqual([
      [
        0,
        "storefront",
        "log",
        "INFO",
        "START RequestId: aaaaaaaa-0000-4000-8000-000000000001 Version: $LATEST",
      ],
      [1, "storefront", "log", "INFO", "GET /search received"],
      [10, "search", "log", "DEBUG", "searching catalog"],
      [20, "search", "event", "", 'search_made {"query":"cats","n_results":3}'],
      [40, "images", "log", "WARN", "thumbnail missing"],
      [50, "images", "event", "", 'downloaded_img {"image_id":"img-9","image_size":2048}'],
      [90, "storefront", "log", "INFO", "responding 200"],
      [91, "storefront", "log", "INFO", "END RequestId: aaaaaaaa-0000-4000-8000-000000000001"],
      [92, "storefront", "log", "INFO", "REPORT RequestId: aaaaaaaa-0000-4000-8000-000000000001"],
    ]);
    expect(rows[0]!.time).toBe("2026-11-22T09:15:00.000Z");
    expect(rows.find((r) => r.kind === "event")!.function).toBe("search-fn");
    expect(rows.find((r) => r.message === "searching catalog")!.function).toBe("search-fn");
  });

  it("finds nothing outside the searched days, and says so", async () => {
    const later = new Date(Date.UTC(2026, 11, 30));
    const rows = buildTimeline(
      await traceLocal({
        s3: s3.client,
        bucket: s3.bucket,
        correlationId: ID,
        cacheDir: join(dir, "cache2"),
        now: later,
        days: 3,
      }),
    );
    expect(rows).toEqual([]);
    expect(renderTimeline(rows, "table", ID)).toMatch(/No log line or event carries correlation ID/);
  });

  it("runs as the CLI command against the local stack's S3, in json and csv", async () => {
    const rows = await runTrace(OTHER, {
      format: "json",
      days: 400,
      dataDir: dir,
      s3Endpoint: s3.endpoint,
      bucket: s3.bucket,
    });
    expect(rows.map((r) => r.message)).toEqual([
      "someone else's request",
      'search_made {"query":"dogs","n_results":0}',
    ]);
    const csv = renderTimeline(rows, "csv", OTHER).split("\n");
    expect(csv[0]).toBe("time,offset_ms,service,function,level,kind,message");
    expect(csv[2]).toBe(
      '2026-11-22T09:15:00.021Z,19,search,search-fn,,event,"search_made {""query"":""dogs"",""n_results"":0}"',
    );
    await expect(
      runTrace("has space", {
        format: "json",
        days: 7,
        dataDir: dir,
        s3Endpoint: s3.endpoint,
        bucket: s3.bucket,
      }),
    ).rejects.toThrow(/not a correlation ID/);
    await expect(
      runTrace(ID, {
        format: "json",
        days: 7,
        dataDir: dir,
        s3Endpoint: "http://127.0.0.1:9",
        bucket: s3.bucket,
      }),
    ).rejects.toThrow(/observatory dev/);
  });

  it("reads the data directory directly when no stack runs (as query, cost and etl do)", async () => {
    const notes: string[] = [];
    const rows = await runTrace(OTHER, { format: "json", days: 400, dataDir: dir, bucket: s3.bucket }, {
      write: (text: string) => notes.push(text),
    } as unknown as NodeJS.WritableStream);
    expect(rows.map((r) => r.message)).toEqual([
      "someone else's request",
      'search_made {"query":"dogs","n_results":0}',
    ]);
    expect(notes.join("")).toMatch(/no local stack running/);
  });

  it("finds a stack on other ports through the data directory's stack.json", async () => {
    const dataDir = join(dir, "elsewhere");
    await mkdir(dataDir, { recursive: true });
    // What `observatory dev --data-dir elsewhere --s3-port 0 ...` leaves (this process stands in for it).
    await writeFile(
      stackFilePath(dataDir),
      JSON.stringify({
        pid: process.pid,
        dataDir,
        collector: "http://127.0.0.1:1",
        s3: s3.endpoint,
        dynamodb: "http://127.0.0.1:1",
        bucket: s3.bucket,
        apiKey: "k",
        startedAt: new Date().toISOString(),
      }),
    );
    const notes: string[] = [];
    const rows = await runTrace(OTHER, { format: "json", days: 400, dataDir, bucket: s3.bucket }, {
      write: (text: string) => notes.push(text),
    } as unknown as NodeJS.WritableStream);
    expect(rows).toHaveLength(2);
    expect(notes.join("")).toContain(`S3 at ${s3.endpoint} (from ${stackFilePath(dataDir)})`);
  });
});

describe("observatory trace --athena", () => {
  it("queries logs and events of the recent days and reads Athena's result rows", async () => {
    const athena = mockClient(AthenaClient);
    athena
      .on(StartQueryExecutionCommand)
      .resolves({ QueryExecutionId: "b3c1f6a2-8e0d-4a57-9d3f-0c2e4b6a8d10" });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: {
        QueryExecutionId: "b3c1f6a2-8e0d-4a57-9d3f-0c2e4b6a8d10",
        StatementType: "DML",
        Status: { State: "SUCCEEDED", SubmissionDateTime: new Date(), CompletionDateTime: new Date() },
        Statistics: { DataScannedInBytes: 52_311, EngineExecutionTimeInMillis: 812 },
      },
    });
    const col = (name: string, type: string) => ({
      CatalogName: "hive",
      SchemaName: "",
      TableName: "",
      Name: name,
      Label: name,
      Type: type,
      Precision: 0,
      Scale: 0,
      Nullable: "UNKNOWN" as const,
      CaseSensitive: type === "varchar",
    });
    const header = ["kind", "t", "log_id", "service", "fn", "level", "message", "event", "properties"];
    athena.on(GetQueryResultsCommand).resolves({
      UpdateCount: 0,
      ResultSet: {
        ResultSetMetadata: {
          ColumnInfo: [
            col("kind", "varchar"),
            col("t", "double"),
            col("log_id", "varchar"),
            col("service", "varchar"),
            col("fn", "varchar"),
            col("level", "varchar"),
            col("message", "varchar"),
            col("event", "varchar"),
            col("properties", "varchar"),
          ],
        },
        Rows: [
          { Data: header.map((h) => ({ VarCharValue: h })) },
          {
            Data: [
              { VarCharValue: "log" },
              { VarCharValue: "1.7953353E12" },
              { VarCharValue: "38000000000000000000000000000000000000000000000000000001" },
              { VarCharValue: "storefront" },
              { VarCharValue: "storefront-fn" },
              { VarCharValue: "INFO" },
              { VarCharValue: "GET /search received" },
              {},
              {},
            ],
          },
          {
            Data: [
              { VarCharValue: "event" },
              { VarCharValue: "1.795335300042E12" },
              { VarCharValue: "e-1" },
              { VarCharValue: "search" },
              {},
              {},
              {},
              { VarCharValue: "search_made" },
              { VarCharValue: '{"query":"cats"}' },
            ],
          },
        ],
      },
    });
    const entries = await traceAthena({
      client: new AthenaClient({ region: "us-east-1" }),
      correlationId: ID,
      workGroup: "observatory",
      logsDatabase: "observatory_logs_dev",
      eventsDatabase: "observatory_dev",
      now: NOW,
      days: 2,
    });
    const rows = buildTimeline(entries);
    expect(rows).toEqual([
      {
        time: "2026-11-22T08:15:00.000Z",
        offset_ms: 0,
        service: "storefront",
        function: "storefront-fn",
        level: "INFO",
        kind: "log",
        message: "GET /search received",
      },
      {
        time: "2026-11-22T08:15:00.042Z",
        offset_ms: 42,
        service: "search",
        function: "",
        level: "",
        kind: "event",
        message: 'search_made {"query":"cats"}',
      },
    ]);
    const sent = athena.commandCalls(StartQueryExecutionCommand)[0]!.args[0].input;
    expect(sent.WorkGroup).toBe("observatory");
    expect(sent.QueryString).toBe(
      traceSql({
        correlationId: ID,
        logsDatabase: "observatory_logs_dev",
        eventsDatabase: "observatory_dev",
        now: NOW,
        days: 2,
      }),
    );
    expect(sent.QueryString).toContain(`dt BETWEEN '2026-11-21' AND '2026-11-22'`);
    expect(sent.QueryString).toContain(`"observatory_logs_dev".logs`);
    expect(sent.QueryString).toContain(`"observatory_dev".events`);
    expect(traceSql({ correlationId: "it's", logsDatabase: "l", now: NOW })).toContain(
      "correlation_id = 'it''s'",
    );
    expect(() => traceSql({ correlationId: ID, logsDatabase: "bad-name; drop", now: NOW })).toThrow(
      /Glue database name/,
    );
    athena.restore();
  });
});

describe("timeline order", () => {
  it("orders lines of the same millisecond by their event id (write order), not by text", () => {
    const at = new Date(Date.UTC(2026, 10, 22));
    const rows = buildTimeline([
      {
        time: at,
        service: "a",
        function: "f",
        level: "INFO",
        kind: "log",
        message: "END RequestId: r",
        seq: "0002",
      },
      { time: at, service: "a", function: "f", level: "INFO", kind: "event", message: "a_event" },
      {
        time: at,
        service: "a",
        function: "f",
        level: "INFO",
        kind: "log",
        message: "zzz last line",
        seq: "0001",
      },
    ]);
    expect(rows.map((r) => r.message)).toEqual(["zzz last line", "END RequestId: r", "a_event"]);
  });
});

describe("observatory trace --opensearch", () => {
  let server: Server;
  let endpoint: string;
  const bodies: { url: string; body: { query: unknown; sort: unknown } }[] = [];
  const hit = (source: Record<string, unknown>, i: number) => ({
    _index: "logs-2026.11.22",
    _id: String(source.log_id),
    _score: null,
    _source: source,
    sort: [i],
  });
  beforeAll(async () => {
    // Speaks the _search response shape; answers the correlation query, then the platform-lines query.
    server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => (raw += c));
      req.on("end", () => {
        const body = JSON.parse(raw) as { query: unknown; sort: unknown };
        bodies.push({ url: `${req.method} ${req.url}`, body });
        const platformQuery = JSON.stringify(body).includes("function_request_id");
        const sources = platformQuery
          ? [
              {
                "@timestamp": "2026-11-22T09:15:00.000Z",
                log_id: "001",
                service: "storefront",
                function_name: "storefront-fn",
                function_request_id: "req-a",
                level: "INFO",
                message: "START RequestId: req-a Version: $LATEST",
              },
            ]
          : [
              {
                "@timestamp": "2026-11-22T09:15:00.001Z",
                log_id: "002",
                service: "storefront",
                function_name: "storefront-fn",
                function_request_id: "req-a",
                level: "INFO",
                message: "GET /search received",
                correlation_id: ID,
              },
              {
                "@timestamp": "2026-11-22T09:15:00.010Z",
                log_id: "003",
                service: "search",
                function_name: "search-fn",
                function_request_id: "req-b",
                level: "DEBUG",
                message: "searching catalog",
                correlation_id: ID,
              },
            ];
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            took: 4,
            timed_out: false,
            _shards: { total: 2, successful: 2, skipped: 0, failed: 0 },
            hits: {
              total: { value: sources.length, relation: "eq" },
              max_score: null,
              hits: sources.map(hit),
            },
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("searches the consumer's indices by correlation ID, then the platform lines of its requests", async () => {
    const rows = await runTrace(ID, {
      format: "json",
      days: 2,
      dataDir: ".",
      s3Endpoint: "",
      bucket: "",
      opensearch: endpoint,
    });
    expect(rows.map((r) => [r.offset_ms, r.service, r.function, r.level, r.kind, r.message])).toEqual([
      [0, "storefront", "storefront-fn", "INFO", "log", "START RequestId: req-a Version: $LATEST"],
      [1, "storefront", "storefront-fn", "INFO", "log", "GET /search received"],
      [10, "search", "search-fn", "DEBUG", "log", "searching catalog"],
    ]);
    expect(bodies.map((b) => b.url)).toEqual(["POST /logs-*/_search", "POST /logs-*/_search"]);
    const [first, second] = bodies.map((b) => b.body);
    expect(JSON.stringify(first!.query)).toContain(`{"term":{"correlation_id.keyword":"${ID}"}}`);
    expect(first!.sort).toEqual([{ "@timestamp": { order: "asc" } }]);
    expect(JSON.stringify(second!.query)).toContain(
      '{"terms":{"function_request_id.keyword":["req-a","req-b"]}}',
    );
    expect(JSON.stringify(second!.query)).toContain('"must_not":[{"exists":{"field":"correlation_id"}}]');
    await expect(
      runTrace(ID, {
        format: "json",
        days: 2,
        dataDir: ".",
        s3Endpoint: "",
        bucket: "",
        opensearch: endpoint,
        athena: true,
      }),
    ).rejects.toThrow(/choose one of/);
  });
});

describe("observatory trace with unreadable raw objects", () => {
  let dir: string;
  let s3: LocalS3;
  const at = new Date(T0);
  const hourPrefix = rawObjectKey(at, "x").replace(/[^/]+$/, "");
  const put = (name: string, body: Buffer) =>
    s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `${hourPrefix}${name}`, Body: body }));
  const trace = async () => {
    const notes: string[] = [];
    const rows = await runTrace(
      ID,
      { format: "json", days: 400, dataDir: dir, s3Endpoint: s3.endpoint, bucket: s3.bucket },
      { write: (text: string) => notes.push(text) } as unknown as NodeJS.WritableStream,
    );
    return { rows, notes: notes.join("") };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-trace-bad-"));
    s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
    const good = rawEvent("g-1", "search_made", 20, ID, "search", { query: "cats" });
    const mixedGood = rawEvent("g-2", "downloaded_img", 30, ID, "images", { image_id: "i-1" });
    const full = gzipSync(JSON.stringify(good));
    await put("1-good.ndjson.gz", full);
    // What a foreign or interrupted write leaves: not gzip, a cut-off gzip, a malformed line among good ones.
    await put("2-garbage.ndjson.gz", Buffer.from("this is not gzip"));
    await put("3-truncated.ndjson.gz", full.subarray(0, Math.floor(full.length / 2)));
    await put(
      "4-mixed.ndjson.gz",
      gzipSync(
        [
          JSON.stringify(rawEvent("o-1", "x", 1, OTHER, "s", {})),
          "{not json",
          JSON.stringify(mixedGood),
        ].join("\n"),
      ),
    );
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("skips what it cannot read, per object and per line, traces the rest and says so on stderr", async () => {
    const { rows, notes } = await trace();
    expect(rows.map((r) => r.message)).toEqual([
      'search_made {"query":"cats"}',
      'downloaded_img {"image_id":"i-1"}',
    ]);
    expect(notes).toContain("trace skipped 2 unreadable raw object(s) and 1 malformed line(s)");
    expect(notes).toContain("observatory etl start compaction --local");
    expect(notes).toContain("2-garbage.ndjson.gz");
    expect(notes).toContain(`${hourPrefix}4-mixed.ndjson.gz: line 2:`);
  });

  it("does not read raw objects compaction already consumed (their events are in the events table)", async () => {
    const state: CompactionState = {
      version: 1,
      open_from_hour: null,
      consumed: { [hourPrefix]: ["2-garbage.ndjson.gz", "3-truncated.ndjson.gz"] },
      last_run: null,
    };
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: STATE_KEY, Body: JSON.stringify(state) }),
    );
    const { rows, notes } = await trace();
    expect(rows).toHaveLength(2);
    expect(notes).toContain("trace skipped 0 unreadable raw object(s) and 1 malformed line(s)");
    expect(notes).not.toContain("2-garbage");
  });
});
