import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QuarantineRecord } from "../contracts/event-record.js";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { QUARANTINE_PREFIX } from "../contracts/storage-layout.js";
import { openDuckDB } from "../functions/compaction/duckdb.js";
import {
  type CompactionDeps,
  compactChunks,
  finalizeCompaction,
  planCompaction,
} from "../functions/compaction/job.js";
import { doneMarkerKey, STATE_KEY } from "../functions/compaction/keys.js";
import { compactChunkInput, quarantineKeyFor } from "../functions/compaction/poison-quarantine.js";
import { listObjects, readJsonObject } from "../functions/compaction/s3-files.js";
import type { CompactionState } from "../functions/compaction/state.js";
import type { CompactionTable } from "../functions/compaction/tables.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { putRawObject, queryTable, rawEvent } from "./compaction-fixtures.js";

/**
 * F18: poison input among good input. One chunk holds good objects, an object that is not gzip, a
 * truncated gzip and an object with bad lines among good ones. The run must succeed, compact every
 * good event, put the bad input in quarantine with its reasons, and a retry or a second run must
 * neither redo nor duplicate anything.
 */
describe("compaction: poison objects and malformed lines are quarantined, the rest compacted", () => {
  let dir: string;
  let s3: LocalS3;
  let deps: CompactionDeps;
  const receivedAt = new Date("2026-11-22T15:10:00.000Z");
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-compaction-poison-"));
    s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
    deps = {
      s3: s3.client,
      bucket: s3.bucket,
      schemas: DEMO_EVENT_SCHEMAS,
      now: () => new Date("2026-11-22T15:40:00Z"),
      threads: 2,
    };
    const put = async (key: string, body: Buffer) => {
      await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body }));
      return key;
    };
    const event = (id: string, minute: string) =>
      rawEvent({ event_id: id, event: "page_viewed", event_time: `2026-11-22T15:${minute}:00.000Z` });
    keys.good = await putRawObject(s3.client, s3.bucket, receivedAt, [
      event("good-1", "01"),
      event("good-2", "02"),
    ]);
    keys.notGzip = await put(
      "raw/dt=2026-11-22/hour=15/zzz-garbage.ndjson.gz",
      Buffer.from("this is not gzip\n"),
    );
    const whole = gzipSync(
      [event("lost-1", "03"), event("lost-2", "04")].map((e) => `${JSON.stringify(e)}\n`).join(""),
    );
    keys.truncated = await put(
      `raw/dt=2026-11-22/hour=15/${receivedAt.getTime() + 1}-truncated.ndjson.gz`,
      whole.subarray(0, Math.floor(whole.length / 2)),
    );
    const lines = [
      JSON.stringify(event("mixed-1", "05")),
      "{not json",
      JSON.stringify(event("mixed-2", "06")),
      JSON.stringify({ ...event("no-time", "07"), event_time: null }),
      JSON.stringify({ ...event("bad-version", "08"), schema_version: "abc" }),
    ];
    keys.mixed = await put(
      `raw/dt=2026-11-22/hour=15/${receivedAt.getTime() + 2}-mixed.ndjson.gz`,
      gzipSync(`${lines.join("\n")}\n`),
    );
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const quarantineObjects = async () =>
    (await listObjects(s3.client, s3.bucket, QUARANTINE_PREFIX)).map((o) => o.key).sort();

  it("the run succeeds: good events in events, bad input in quarantine with reasons", async () => {
    const runId = "poison-1";
    const chunks = await planCompaction(deps, { run_id: runId, input: {} });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.keys).toHaveLength(4);
    await compactChunks(deps, runId, chunks);
    const firstQuarantine = await quarantineObjects();
    expect(firstQuarantine).toEqual(
      [keys.notGzip, keys.truncated, keys.mixed].map((k) => quarantineKeyFor(k as string)).sort(),
    );
    const bodies = async () =>
      Promise.all(
        firstQuarantine.map(async (key) => {
          const o = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
          return Buffer.from(await o.Body!.transformToByteArray()).toString("base64");
        }),
      );
    const before = await bodies();

    // A worker retried after it quarantined but before its done marker: the same objects, rewritten.
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: doneMarkerKey(runId, 0) }));
    await compactChunks(deps, runId, chunks);
    expect(await quarantineObjects()).toEqual(firstQuarantine);
    const after = await bodies();
    expect(after.map((b) => gunzipSync(Buffer.from(b, "base64")).toString())).toEqual(
      before.map((b) => gunzipSync(Buffer.from(b, "base64")).toString()),
    );

    const output = await finalizeCompaction(deps, runId);
    expect(output.chunks_done).toBe(1);
    expect(
      await queryTable(s3.client, s3.bucket, "events", "SELECT event_id FROM events ORDER BY event_id"),
    ).toEqual([
      { event_id: "good-1" },
      { event_id: "good-2" },
      { event_id: "mixed-1" },
      { event_id: "mixed-2" },
    ]);
    const quarantined = await queryTable<{
      request_id: string;
      batch_index: number | null;
      event_id: string | null;
      reasons: string[];
      payload: string;
      payload_encoding: string;
      status: number;
    }>(
      s3.client,
      s3.bucket,
      "quarantine",
      "SELECT request_id, batch_index, event_id, reasons, payload, payload_encoding, status FROM quarantine ORDER BY request_id, batch_index",
    );
    expect(quarantined.map((q) => [q.request_id, q.batch_index, q.event_id, q.payload_encoding])).toEqual([
      [keys.truncated, null, null, "base64"],
      [keys.mixed, 1, null, "utf8"],
      [keys.mixed, 3, "no-time", "json"],
      [keys.mixed, 4, "bad-version", "json"],
      [keys.notGzip, null, null, "utf8"],
    ]);
    const byKey = (key: string, index: number | null) =>
      quarantined.find((q) => q.request_id === key && q.batch_index === index) as (typeof quarantined)[0];
    expect(byKey(keys.notGzip as string, null).reasons.join(" ")).toMatch(/not a readable gzip object/);
    expect(byKey(keys.notGzip as string, null).payload).toBe("this is not gzip\n");
    expect(byKey(keys.truncated as string, null).reasons.join(" ")).toMatch(/gzip.*unexpected end of file/);
    // Nothing lost: the truncated object's bytes, as stored.
    const truncatedBytes = Buffer.from(byKey(keys.truncated as string, null).payload, "base64");
    const stored = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: keys.truncated }));
    expect(truncatedBytes.equals(Buffer.from(await stored.Body!.transformToByteArray()))).toBe(true);
    expect(byKey(keys.mixed as string, 1).reasons[0]).toMatch(/not JSON/);
    expect(byKey(keys.mixed as string, 1).payload).toBe("{not json");
    expect(byKey(keys.mixed as string, 3).reasons).toContain("event_time is missing");
    expect(byKey(keys.mixed as string, 4).reasons).toContain("schema_version must be an integer or null");
    expect(byKey(keys.mixed as string, 4).reasons.at(-1)).toBe(`in s3://${s3.bucket}/${keys.mixed} line 5`);
    expect(quarantined.every((q) => q.status === 0)).toBe(true);

    // Every bad raw object and its quarantine object is consumed, once.
    const state = await readJsonObject<CompactionState>(s3.client, s3.bucket, STATE_KEY);
    const consumed = Object.entries(state?.consumed ?? {}).flatMap(([prefix, names]) =>
      names.map((n) => `${prefix}${n}`),
    );
    expect(consumed.sort()).toEqual([...Object.values(keys), ...firstQuarantine].sort());
  });

  it("a second run reads nothing again and duplicates nothing", async () => {
    const chunks = await planCompaction(deps, { run_id: "poison-2", input: {} });
    expect(chunks).toEqual([]);
    await finalizeCompaction(deps, "poison-2");
    const counts = async (table: string) =>
      (
        await queryTable<{ n: number }>(
          s3.client,
          s3.bucket,
          table,
          `SELECT count(*)::INTEGER AS n FROM ${table}`,
        )
      )[0]?.n;
    expect(await counts("events")).toBe(4);
    expect(await counts("quarantine")).toBe(5);
  });

  it("a foreign line in a quarantine object is quarantined too, beside the good records", async () => {
    const good: QuarantineRecord = {
      quarantined_at: "2026-11-22T15:20:00.000Z",
      request_id: "req-q1",
      correlation_id: "corr-q1",
      status: 400,
      index: 0,
      event_id: null,
      event: "search_made",
      reasons: ["properties.query is required"],
      payload: "{}",
      payload_encoding: "json",
    };
    const key = "quarantine/dt=2026-11-22/hour=15/1795360800000-foreign.ndjson.gz";
    await s3.client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: key,
        Body: gzipSync(`${JSON.stringify(good)}\n${JSON.stringify({ quarantined_at: "yesterday" })}\n`),
      }),
    );
    const chunks = await planCompaction(deps, { run_id: "poison-3", input: {} });
    expect(chunks.flatMap((c) => c.keys)).toEqual([key]);
    await compactChunks(deps, "poison-3", chunks);
    await finalizeCompaction(deps, "poison-3");
    const rows = await queryTable<{ request_id: string; batch_index: number; reasons: string[] }>(
      s3.client,
      s3.bucket,
      "quarantine",
      `SELECT request_id, batch_index, reasons FROM quarantine WHERE request_id IN ('req-q1', '${key}') ORDER BY request_id`,
    );
    expect(rows.map((r) => [r.request_id, r.batch_index])).toEqual([
      [key, 1],
      ["req-q1", 0],
    ]);
    expect(rows[0]?.reasons).toContain('quarantined_at must be an ISO-8601 time with a zone: "yesterday"');
    expect(await planCompaction(deps, { run_id: "poison-4", input: {} })).toEqual([]);
  });

  it("a chunk failing for a reason that is not its data still fails, and quarantines nothing", async () => {
    const work = await mkdtemp(join(dir, "work-"));
    const file = join(work, "ok.ndjson.gz");
    const good = rawEvent({ event_id: "fine", event: "page_viewed", event_time: "2026-11-22T15:00:00.000Z" });
    await writeFile(file, gzipSync(`${JSON.stringify(good)}\n`));
    const db = await openDuckDB({ tempDirectory: join(work, "duckdb"), threads: 1 });
    const before = await quarantineObjects();
    try {
      // A table whose select list cannot run: the failure is ours (a bug), not the data's.
      const broken: CompactionTable = {
        name: "events",
        columns: [{ name: "x", glueType: "int", duckdbType: "INTEGER", comment: "" }],
        select: { x: "no_such_column" },
        from: "chunk_rows",
        dedupKey: "x",
        timeColumn: "event_time",
      };
      await expect(
        compactChunkInput(db.connection, {
          s3: s3.client,
          bucket: s3.bucket,
          kind: "events",
          keys: ["raw/dt=2026-11-22/hour=15/ok.ndjson.gz"],
          inputFiles: [file],
          tables: [broken],
          workDirectory: work,
        }),
      ).rejects.toThrow(/no_such_column/);
    } finally {
      db.close();
    }
    expect(await quarantineObjects()).toEqual(before);
  });
});
