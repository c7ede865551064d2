import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { CopyObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RawEventRecord } from "../contracts/event-record.js";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { EVENTS_COLUMNS } from "../contracts/events-table.js";
import {
  type CompactionDeps,
  compactChunk,
  compactChunks,
  finalizeCompaction,
  planCompaction,
} from "../functions/compaction/job.js";
import { STATE_KEY } from "../functions/compaction/keys.js";
import { readJsonObject } from "../functions/compaction/s3-files.js";
import type { CompactionState } from "../functions/compaction/state.js";
import { type LocalS3, localS3Client, startLocalS3 } from "../local/s3-server.js";
import {
  putQuarantineObject,
  putRawObject,
  queryParquetFile,
  queryTable,
  rawEvent,
  tableFiles,
} from "./compaction-fixtures.js";

/** Plans, works every chunk, finalizes: what the EtlFleet does, minus Step Functions. */
async function runOnce(deps: CompactionDeps, runId: string) {
  const chunks = await planCompaction(deps, { run_id: runId, input: {} });
  for (const chunk of chunks) await compactChunks(deps, runId, [chunk]);
  return { chunks, output: await finalizeCompaction(deps, runId) };
}

describe("compaction: raw gzip NDJSON -> Parquet tables", () => {
  let dir: string;
  let s3: LocalS3;
  let deps: CompactionDeps;
  const at = (iso: string) => new Date(iso);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-compaction-"));
    s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
    deps = {
      s3: s3.client,
      bucket: s3.bucket,
      schemas: DEMO_EVENT_SCHEMAS,
      now: () => new Date("2026-11-22T15:40:00Z"),
      // Two: the worker then writes over a second connection, as on a 2-vCPU Lambda.
      threads: 2,
    };
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const first: RawEventRecord[] = [
    rawEvent({
      event_id: "e1",
      event: "search_made",
      event_time: "2026-11-22T14:10:00.123Z",
      received_at: "2026-11-22T15:00:00.000Z",
      properties: { query: "café 🚀", n_results: 7 },
      schema_version: 1,
    }),
    rawEvent({
      event_id: "e2",
      event: "downloaded_img",
      event_time: "2026-11-22T15:01:02.003Z",
      properties: { image_id: "i1", image_size: 1234 },
      schema_version: 1,
    }),
    rawEvent({
      event_id: "e3",
      event: "page_viewed",
      event_time: "2026-11-22T15:05:00.000Z",
      properties: { path: "/" },
    }),
  ];

  it("writes one ZSTD Parquet file per event-hour partition, with INT64 ms timestamps and JSON strings", async () => {
    await putRawObject(s3.client, s3.bucket, at("2026-11-22T15:00:00Z"), first);
    // The same request retried by the client: the collector wrote it again under a new key.
    await putRawObject(s3.client, s3.bucket, at("2026-11-22T15:00:05Z"), [first[1] as RawEventRecord]);
    const { chunks, output } = await runOnce(deps, "run-1");
    expect(chunks).toHaveLength(1);
    expect(output).toMatchObject({
      chunks_planned: 1,
      chunks_done: 1,
      objects_consumed: 2,
      rows_in: 4,
      duplicates_in_chunks: 1,
    });

    expect((await tableFiles(s3.client, s3.bucket, "events")).sort()).toEqual([
      "tables/events/dt=2026-11-22/hour=14/part-0000.parquet",
      "tables/events/dt=2026-11-22/hour=15/part-0000.parquet",
    ]);
    const rows = await queryTable(
      s3.client,
      s3.bucket,
      "events",
      "SELECT event_id, event, event_time::VARCHAR AS t, dt, hour, properties FROM events ORDER BY event_id",
    );
    expect(rows).toEqual([
      {
        event_id: "e1",
        event: "search_made",
        t: "2026-11-22 14:10:00.123",
        dt: "2026-11-22",
        hour: "14",
        properties: '{"query":"café 🚀","n_results":7}',
      },
      {
        event_id: "e2",
        event: "downloaded_img",
        t: "2026-11-22 15:01:02.003",
        dt: "2026-11-22",
        hour: "15",
        properties: '{"image_id":"i1","image_size":1234}',
      },
      {
        event_id: "e3",
        event: "page_viewed",
        t: "2026-11-22 15:05:00",
        dt: "2026-11-22",
        hour: "15",
        properties: '{"path":"/"}',
      },
    ]);
    const file = "tables/events/dt=2026-11-22/hour=15/part-0000.parquet";
    const schema = await queryParquetFile(
      s3.client,
      s3.bucket,
      file,
      "SELECT name, type, converted_type FROM parquet_schema(FILE) WHERE name IN ('event_time', 'received_at', 'properties')",
    );
    expect(schema).toEqual([
      { name: "event_time", type: "INT64", converted_type: "TIMESTAMP_MILLIS" },
      { name: "received_at", type: "INT64", converted_type: "TIMESTAMP_MILLIS" },
      { name: "properties", type: "BYTE_ARRAY", converted_type: "UTF8" },
    ]);
    const columns = await queryParquetFile(
      s3.client,
      s3.bucket,
      file,
      "SELECT list(DISTINCT compression) AS codecs, list(DISTINCT path_in_schema ORDER BY path_in_schema) AS cols FROM parquet_metadata(FILE)",
    );
    expect(columns).toEqual([{ codecs: ["ZSTD"], cols: EVENTS_COLUMNS.map((c) => c.name).sort() }]);
  });

  it("writes typed per-event tables for declared schemas", async () => {
    const rows = await queryTable(
      s3.client,
      s3.bucket,
      "search_made",
      "SELECT event_id, query, n_results, typeof(n_results) AS ty FROM search_made",
    );
    expect(rows).toEqual([{ event_id: "e1", query: "café 🚀", n_results: "7", ty: "BIGINT" }]);
    const downloads = await queryTable(
      s3.client,
      s3.bucket,
      "downloaded_img",
      "SELECT event_id, image_id, image_size FROM downloaded_img",
    );
    expect(downloads).toEqual([{ event_id: "e2", image_id: "i1", image_size: "1234" }]);
    expect(await tableFiles(s3.client, s3.bucket, "uploaded_img")).toEqual([]);
  });

  it("plans nothing when nothing arrived, and merges late events and re-sent duplicates into the hour", async () => {
    const idle = await runOnce(deps, "run-2");
    expect(idle.chunks).toEqual([]);
    // A late event for hour 14 (already compacted), a re-sent copy of e1, a new property mid-stream.
    await putRawObject(s3.client, s3.bucket, at("2026-11-22T15:30:00Z"), [
      rawEvent({
        event_id: "e4",
        event: "page_viewed",
        event_time: "2026-11-22T14:59:59.999Z",
        properties: { path: "/late", referrer: "ads" },
      }),
      first[0] as RawEventRecord,
    ]);
    const { output } = await runOnce(deps, "run-3");
    expect(output).toMatchObject({
      objects_consumed: 1,
      rows_in: 2,
      duplicates_in_chunks: 0,
      // One re-sent event (e1), though it was dropped from both events and search_made.
      duplicates_against_existing: 1,
    });
    expect((await tableFiles(s3.client, s3.bucket, "events")).sort()).toEqual([
      "tables/events/dt=2026-11-22/hour=14/part-0000.parquet",
      "tables/events/dt=2026-11-22/hour=15/part-0000.parquet",
    ]);
    const rows = await queryTable(
      s3.client,
      s3.bucket,
      "events",
      "SELECT event_id, hour, json_extract_string(properties, '$.referrer') AS referrer FROM events ORDER BY event_id",
    );
    expect(rows).toEqual([
      { event_id: "e1", hour: "14", referrer: null },
      { event_id: "e2", hour: "15", referrer: null },
      { event_id: "e3", hour: "15", referrer: null },
      { event_id: "e4", hour: "14", referrer: "ads" },
    ]);
    expect(
      await queryTable(s3.client, s3.bucket, "search_made", "SELECT count(*)::INT AS n FROM search_made"),
    ).toEqual([{ n: 1 }]);
  });

  it("compacts quarantine into a queryable table, one row per rejected item", async () => {
    const record = {
      quarantined_at: "2026-11-22T15:31:00.500Z",
      request_id: "req-9",
      correlation_id: "corr-9",
      status: 200,
      index: 2,
      event_id: "bad-1",
      event: "search_made",
      reasons: ["properties.n_results must be integer", "timestamp is in the future"],
      payload: '{"event":"search_made"}',
      payload_encoding: "json" as const,
    };
    // The same request's quarantine object read twice (e.g. written again by a retried collector invocation).
    await putQuarantineObject(s3.client, s3.bucket, at("2026-11-22T15:31:00Z"), [record]);
    await putQuarantineObject(s3.client, s3.bucket, at("2026-11-22T15:31:01Z"), [
      record,
      {
        ...record,
        index: null,
        event_id: null,
        event: null,
        reasons: ["body is not valid JSON"],
        payload: "{",
        payload_encoding: "utf8" as const,
      },
    ]);
    await runOnce(deps, "run-4");
    const rows = await queryTable(
      s3.client,
      s3.bucket,
      "quarantine",
      "SELECT request_id, batch_index, reasons, quarantined_at::VARCHAR AS t, hour FROM quarantine ORDER BY batch_index NULLS LAST",
    );
    expect(rows).toEqual([
      {
        request_id: "req-9",
        batch_index: 2,
        reasons: ["properties.n_results must be integer", "timestamp is in the future"],
        t: "2026-11-22 15:31:00.5",
        hour: "15",
      },
      {
        request_id: "req-9",
        batch_index: null,
        reasons: ["body is not valid JSON"],
        t: "2026-11-22 15:31:00.5",
        hour: "15",
      },
    ]);
  });

  it("leaves a failed chunk's objects for the next run and never consumes them twice", async () => {
    // Bad data is quarantined (compaction-poison.test.ts); a chunk fails when its object cannot be
    // fetched at all (here: access denied, not retryable), and then nothing of it may be consumed.
    const bad = "raw/dt=2026-11-22/hour=15/1795000000000-broken.ndjson.gz";
    // Empty: whichever later run of this file takes it adds no rows.
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: bad, Body: gzipSync("") }));
    const denied = localS3Client(s3.endpoint);
    denied.middlewareStack.add(
      (next) => async (args) => {
        if ((args.input as { Key?: string }).Key === bad)
          throw Object.assign(new Error("Access Denied"), { name: "AccessDenied" });
        return next(args);
      },
      { step: "initialize" },
    );
    const goodKey = await putRawObject(s3.client, s3.bucket, at("2026-11-22T15:35:00Z"), [
      rawEvent({ event_id: "e5", event: "page_viewed", event_time: "2026-11-22T15:35:00.000Z" }),
    ]);
    const chunks = await planCompaction(deps, { run_id: "run-5", input: { max_chunk_objects: 1 } });
    expect(chunks.map((c) => c.keys)).toEqual(
      [[goodKey], [bad]].sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
    );
    for (const chunk of chunks) {
      if (chunk.keys[0] === bad)
        await expect(compactChunk({ ...deps, s3: denied }, "run-5", chunk)).rejects.toThrow(/Access Denied/);
      else await compactChunk(deps, "run-5", chunk);
    }
    const output = await finalizeCompaction(deps, "run-5");
    expect(output).toMatchObject({ chunks_planned: 2, chunks_done: 1, objects_consumed: 1 });
    const state = await readJsonObject<CompactionState>(s3.client, s3.bucket, STATE_KEY);
    expect(Object.values(state?.consumed ?? {}).flat()).not.toContain(bad.split("/").pop());
    // The next run takes only the failed object again.
    const next = await planCompaction(deps, { run_id: "run-6", input: {} });
    expect(next.flatMap((c) => c.keys)).toEqual([bad]);
  });

  it("is idempotent: a retried worker and a retried finalizer change nothing", async () => {
    await putRawObject(s3.client, s3.bucket, at("2026-11-22T15:36:00Z"), [
      rawEvent({ event_id: "e6", event: "page_viewed", event_time: "2026-11-22T15:36:00.000Z" }),
    ]);
    const chunks = (await planCompaction(deps, { run_id: "run-7", input: { max_chunk_objects: 1 } })).filter(
      (c) => !c.keys.some((k) => k.includes("broken")),
    );
    const before = await queryTable(s3.client, s3.bucket, "events", "SELECT count(*)::INT AS n FROM events");
    for (const chunk of chunks) {
      await compactChunk(deps, "run-7", chunk);
      await compactChunk(deps, "run-7", chunk);
    }
    const a = await finalizeCompaction(deps, "run-7");
    const b = await finalizeCompaction(deps, "run-7");
    expect(b).toEqual(a);
    const after = await queryTable(s3.client, s3.bucket, "events", "SELECT count(*)::INT AS n FROM events");
    expect((after[0] as { n: number }).n).toBe((before[0] as { n: number }).n + 1);
  });

  it("spreads a chunk over many hours (the partitioned-write path) without losing a row", async () => {
    const late = Array.from({ length: 10 }, (_, h) =>
      rawEvent({
        event_id: `many-${h}`,
        event: "search_made",
        event_time: `2026-11-20T${String(h).padStart(2, "0")}:30:00.000Z`,
        properties: { query: `q${h}`, n_results: h },
      }),
    );
    const key = await putRawObject(s3.client, s3.bucket, at("2026-11-22T15:39:00Z"), late);
    const chunks = await planCompaction(deps, { run_id: "run-many", input: { max_chunk_objects: 1 } });
    for (const chunk of chunks.filter((c) => c.keys.includes(key)))
      await compactChunk(deps, "run-many", chunk);
    await finalizeCompaction(deps, "run-many");
    const files = (await tableFiles(s3.client, s3.bucket, "search_made")).filter((f) =>
      f.includes("dt=2026-11-20"),
    );
    expect(files).toHaveLength(10);
    const rows = await queryTable(
      s3.client,
      s3.bucket,
      "search_made",
      "SELECT hour, query, n_results FROM search_made WHERE dt = '2026-11-20' ORDER BY hour",
    );
    expect(rows).toEqual(
      late.map((_, h) => ({ hour: String(h).padStart(2, "0"), query: `q${h}`, n_results: String(h) })),
    );
  });

  it("two finalizers merging one partition at once lose nothing (conditional writes, merge redone)", async () => {
    const x = await putRawObject(s3.client, s3.bucket, at("2026-11-22T15:37:00Z"), [
      rawEvent({ event_id: "x1", event: "page_viewed", event_time: "2026-11-22T15:10:00.000Z" }),
    ]);
    const planB = await planCompaction(deps, { run_id: "run-b", input: { max_chunk_objects: 1 } });
    const y = await putRawObject(s3.client, s3.bucket, at("2026-11-22T15:38:00Z"), [
      rawEvent({ event_id: "y1", event: "page_viewed", event_time: "2026-11-22T15:20:00.000Z" }),
    ]);
    const planC = await planCompaction(deps, { run_id: "run-c", input: { max_chunk_objects: 1 } });
    for (const chunk of planB.filter((c) => c.keys.includes(x))) await compactChunk(deps, "run-b", chunk);
    for (const chunk of planC.filter((c) => c.keys.includes(y))) await compactChunk(deps, "run-c", chunk);
    const target = "tables/events/dt=2026-11-22/hour=15/part-0000.parquet";
    const racing = { ...deps, s3: s3WithConditionalWrites(s3.client, target) };
    await Promise.all([finalizeCompaction(racing, "run-b"), finalizeCompaction(racing, "run-c")]);
    const rows = await queryTable(
      s3.client,
      s3.bucket,
      "events",
      "SELECT event_id FROM events WHERE event_id IN ('x1', 'y1', 'e2', 'e3') ORDER BY event_id",
    );
    expect(rows.map((r) => r.event_id)).toEqual(["e2", "e3", "x1", "y1"]);
  });
});

/**
 * s3rver ignores If-Match / If-None-Match; this client enforces them as S3 does (atomically, within this
 * process) and makes the first two conditional writes to `barrierKey` meet before either is applied,
 * so two merges of that partition really race.
 */
function s3WithConditionalWrites(client: S3Client, barrierKey: string): S3Client {
  let writes = 0;
  let release: () => void = () => {};
  const barrier = new Promise<void>((resolve) => {
    release = resolve;
    setTimeout(resolve, 10_000); // never hang the test
  });
  let queue = Promise.resolve();
  const send = client.send.bind(client) as (command: unknown) => Promise<unknown>;
  const conditional = async (command: PutObjectCommand | CopyObjectCommand) => {
    const { Bucket, Key, IfMatch, IfNoneMatch } = command.input;
    if (Key === barrierKey && ++writes <= 2) {
      if (writes === 2) release();
      await barrier;
    }
    const run = queue.then(async () => {
      const etag = await send(new HeadObjectCommand({ Bucket, Key })).then(
        (h) => (h as { ETag?: string }).ETag,
        () => undefined,
      );
      if ((IfNoneMatch === "*" && etag) || (IfMatch && IfMatch !== etag)) {
        throw Object.assign(new Error("At least one of the pre-conditions you specified did not hold"), {
          name: "PreconditionFailed",
          $metadata: { httpStatusCode: 412 },
        });
      }
      return send(command);
    });
    queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  };
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property !== "send") return Reflect.get(target, property, receiver);
      return (command: unknown) => {
        if (
          (command instanceof PutObjectCommand || command instanceof CopyObjectCommand) &&
          (command.input.IfMatch || command.input.IfNoneMatch)
        ) {
          return conditional(command);
        }
        return send(command);
      };
    },
  });
}

describe("compaction of a backlog bigger than one run", () => {
  it("takes MAX_OBJECTS_PER_RUN objects per run, oldest hours first, and never skips or repeats one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "obs-compaction-backlog-"));
    const s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
    try {
      // Five requests in three hours that are all long closed by the time the runs plan.
      const deps: CompactionDeps = {
        s3: s3.client,
        bucket: s3.bucket,
        schemas: [],
        now: () => new Date("2026-11-22T20:00:00Z"),
        threads: 1,
      };
      const hours = ["10", "10", "11", "12", "12"];
      for (const [i, hour] of hours.entries()) {
        await putRawObject(s3.client, s3.bucket, new Date(`2026-11-22T${hour}:0${i}:00Z`), [
          rawEvent({
            event_id: `b${i}`,
            event: "page_viewed",
            event_time: `2026-11-22T${hour}:0${i}:00.000Z`,
          }),
        ]);
      }
      const taken: string[][] = [];
      for (const run of ["b1", "b2", "b3", "b4"]) {
        const chunks = await planCompaction(deps, { run_id: run, input: { max_objects_per_run: 2 } });
        for (const chunk of chunks) await compactChunks(deps, run, [chunk]);
        const output = await finalizeCompaction(deps, run);
        taken.push(chunks.flatMap((c) => c.keys).map((k) => /hour=(\d\d)/.exec(k)?.[1] ?? k));
        expect(output.objects_deferred).toBe(Math.max(0, hours.length - 2 * taken.length));
      }
      expect(taken).toEqual([["10", "10"], ["11", "12"], ["12"], []]);
      const rows = await queryTable(
        s3.client,
        s3.bucket,
        "events",
        "SELECT event_id FROM events ORDER BY event_id",
      );
      expect(rows.map((r) => r.event_id)).toEqual(["b0", "b1", "b2", "b3", "b4"]);
    } finally {
      await s3.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
