import { access, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { LocalQueryEngine } from "../local/query-engine.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { NAMED_QUERIES } from "../query/named-queries.js";
import { expectedAnswers, type QueryFixture, writeQueryFixture } from "./query-fixtures.js";

let dir: string;
let s3: LocalS3;
let fixture: QueryFixture;
let engine: LocalQueryEngine;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "obs-query-"));
  s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
  fixture = await writeQueryFixture({
    s3: s3.client,
    bucket: s3.bucket,
    workDir: join(dir, "work"),
    events: 3000,
  });
  engine = await LocalQueryEngine.open({ s3: s3.client, bucket: s3.bucket, cacheDir: join(dir, "cache") });
}, 60_000);
afterAll(async () => {
  engine?.close();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("named queries on the local engine", () => {
  const expected = () => expectedAnswers(fixture) as Record<string, Record<string, unknown>[]>;
  for (const named of NAMED_QUERIES) {
    it(`${named.name} returns exactly the rows computed from the generated events`, async () => {
      const result = await engine.query(named.sql);
      const want = expected()[named.name]!;
      expect(want.length).toBeGreaterThan(1);
      expect(result.rows).toHaveLength(want.length);
      result.rows.forEach((row, i) => {
        for (const [column, value] of Object.entries(want[i]!)) {
          if (typeof value === "number" && !Number.isInteger(value))
            expect(row[column]).toBeCloseTo(value, 9);
          else expect(row[column]).toEqual(value);
        }
      });
    });
  }
});

describe("tables", () => {
  it("exposes dt and hour as string partition columns and the contract's types", async () => {
    const result = await engine.query("SELECT event_time, dt, hour, properties FROM events LIMIT 1");
    expect(result.columns).toEqual([
      { name: "event_time", type: "TIMESTAMP" },
      { name: "dt", type: "VARCHAR" },
      { name: "hour", type: "VARCHAR" },
      { name: "properties", type: "VARCHAR" },
    ]);
    const row = result.rows[0]!;
    expect(row.dt).toBe((row.event_time as Date).toISOString().slice(0, 10));
    expect(row.hour).toBe((row.event_time as Date).toISOString().slice(11, 13));
  });

  it("filters by partition and answers Trino functions over the JSON properties", async () => {
    const day = "2026-01-15";
    const want = fixture.events.filter(
      (e) => e.event === "search_made" && e.event_time.startsWith(day) && e.properties.query === "cats",
    ).length;
    const result = await engine.query(
      `SELECT count(*) AS n FROM events WHERE dt = '${day}' AND event = 'search_made' AND json_extract_scalar(properties, '$.query') = 'cats'`,
    );
    expect(result.rows).toEqual([{ n: want }]);
  });

  it("returns values as the Athena runner does: dates as text, wide decimals exact, maps as objects", async () => {
    const result = await engine.query(
      "SELECT DATE '2026-01-15' AS d, CAST('12345678901234567890.5' AS DECIMAL(38,1)) AS big, CAST(123.45 AS DECIMAL(10,2)) AS small, " +
        "MAP(ARRAY['a'], ARRAY[1]) AS m, TIME '10:00:00' AS t, count(*) AS n, sum(image_size) AS total FROM downloaded_img",
    );
    const row = result.rows[0]!;
    expect(row).toMatchObject({
      d: "2026-01-15",
      big: "12345678901234567890.5",
      small: 123.45,
      m: { a: 1 },
      t: "10:00:00",
    });
    expect(typeof row.n).toBe("number");
    expect(row.total).toBe(
      fixture.events
        .filter((e) => e.event === "downloaded_img")
        .reduce((sum, e) => sum + (e.properties.image_size as number), 0),
    );
  });

  it("keeps unicode property values intact", async () => {
    const result = await engine.query("SELECT count(*) AS n FROM search_made WHERE query = '日本の桜'");
    expect(result.rows[0]!.n).toBe(fixture.events.filter((e) => e.properties.query === "日本の桜").length);
  });
});

describe("declared columns, as Glue shows them", () => {
  it("reads a declared property no file holds yet as NULL and hides file columns the schema does not declare", async () => {
    const evolved = DEMO_EVENT_SCHEMAS.map((schema) =>
      schema.event === "search_made"
        ? {
            ...schema,
            version: 2,
            schema: {
              type: "object" as const,
              properties: { query: { type: "string" as const }, lang: { type: "string" as const } },
            },
          }
        : schema,
    );
    const other = await LocalQueryEngine.open({
      s3: s3.client,
      bucket: s3.bucket,
      cacheDir: join(dir, "cache-evolved"),
      eventSchemas: evolved,
    });
    try {
      const result = await other.query("SELECT count(*) AS n, count(lang) AS with_lang FROM search_made");
      expect(result.rows).toEqual([
        { n: fixture.events.filter((e) => e.event === "search_made").length, with_lang: 0 },
      ]);
      await expect(other.query("SELECT n_results FROM search_made")).rejects.toThrow(/n_results/);
    } finally {
      other.close();
    }
  });
});

describe("mirror", () => {
  it("downloads nothing again when nothing changed, and forgets objects deleted from S3", async () => {
    const again = await engine.refresh();
    expect(again.downloaded).toBe(0);
    expect(again.unchanged).toBe(fixture.parquetObjects);

    const listed = await s3.client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "tables/search_made/" }),
    );
    const victim = listed.Contents![0]!.Key!;
    const [, dt, hour] = /dt=([^/]+)\/hour=([^/]+)\//.exec(victim)!;
    const lost = fixture.events.filter(
      (e) => e.event === "search_made" && e.event_time.slice(0, 13) === `${dt}T${hour}`,
    ).length;
    const before = (await engine.query("SELECT count(*) AS n FROM search_made")).rows[0]!.n as number;
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: victim }));
    const report = await engine.refresh();
    expect(report.removed).toBe(1);
    expect((await engine.query("SELECT count(*) AS n FROM search_made")).rows[0]!.n).toBe(before - lost);
  });

  it("shows an undeclared table found in S3 and forgets it when its files are gone", async () => {
    const listed = await s3.client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "tables/search_made/" }),
    );
    const source = listed.Contents![0]!.Key!;
    const copy = source.replace("tables/search_made/", "tables/searches_v0/");
    const { CopyObjectCommand } = await import("@aws-sdk/client-s3");
    await s3.client.send(
      new CopyObjectCommand({ Bucket: s3.bucket, Key: copy, CopySource: `${s3.bucket}/${source}` }),
    );
    await engine.refresh();
    const rows = (await engine.query("SELECT count(*) AS n, min(dt) AS dt FROM searches_v0")).rows;
    expect(rows[0]!.n).toBeGreaterThan(0);
    expect(rows[0]!.dt).toBe(/dt=([^/]+)/.exec(copy)![1]);
    await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: copy }));
    await engine.refresh();
    await expect(engine.query("SELECT count(*) FROM searches_v0")).rejects.toThrow(
      /searches_v0 does not exist/,
    );
    expect((await engine.query("SELECT count(*) AS n FROM search_made")).rows[0]!.n).toBeGreaterThan(0);
  });

  it("lists again when compaction deletes an object between listing and download", async () => {
    const { localS3Client } = await import("../local/s3-server.js");
    const racing = localS3Client(s3.endpoint);
    let raced: string | undefined;
    // Before the first download, the "compaction" deletes that object: the listing is now stale.
    racing.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string };
        if (context.commandName === "GetObjectCommand" && !raced && input.Key) {
          raced = input.Key;
          await s3.client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: input.Key }));
        }
        return next(args);
      },
      { step: "initialize" },
    );
    const racer = await LocalQueryEngine.open({
      s3: racing,
      bucket: s3.bucket,
      cacheDir: join(dir, "cache-race"),
    });
    try {
      expect(raced).toBeDefined();
      const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "tables/" }));
      expect(racer.lastSync!.files).toHaveLength(listed.Contents!.length);
    } finally {
      racer.close();
      racing.destroy();
    }
  });

  it("offers every declared table with its columns before any data exists", async () => {
    const emptyEngine = await LocalQueryEngine.open({
      s3: s3.client,
      bucket: "observatory-empty",
      cacheDir: join(dir, "empty-cache"),
    }).catch((error: Error) => error);
    // The bucket does not exist: the error must say so rather than pretend the tables are empty.
    expect(emptyEngine).toBeInstanceOf(Error);

    const { startLocalS3: start } = await import("../local/s3-server.js");
    const fresh = await start({ directory: join(dir, "s3-fresh"), port: 0 });
    const engineOnFresh = await LocalQueryEngine.open({
      s3: fresh.client,
      bucket: fresh.bucket,
      cacheDir: join(dir, "fresh-cache"),
    });
    try {
      const result = await engineOnFresh.query("SELECT reasons, dt FROM quarantine");
      expect(result.rows).toEqual([]);
      expect(result.columns).toEqual([
        { name: "reasons", type: "VARCHAR[]" },
        { name: "dt", type: "VARCHAR" },
      ]);
      for (const named of NAMED_QUERIES) expect((await engineOnFresh.query(named.sql)).rows).toEqual([]);
    } finally {
      engineOnFresh.close();
      await fresh.close();
    }
  });
});

describe("only one read-only query", () => {
  it("refuses a second statement instead of dropping it", async () => {
    await expect(engine.query("SELECT 1 AS a; SELECT 2 AS b")).rejects.toThrow(
      /exactly one query .* got 2 statements/,
    );
  });

  it("refuses statements that write or change the session: COPY, DROP, SET, CREATE, ATTACH", async () => {
    const target = join(dir, "copied.csv");
    await expect(engine.query(`COPY (SELECT 1) TO '${target}'`)).rejects.toThrow(
      /not a read-only query \(COPY\)/,
    );
    await expect(engine.query(`EXPLAIN ANALYZE COPY (SELECT 1) TO '${target}'`)).rejects.toThrow(
      /not a read-only query \(EXPLAIN of a statement that is not a query\)/,
    );
    await expect(access(target)).rejects.toThrow(/ENOENT/);
    await expect(engine.query("DROP VIEW events")).rejects.toThrow(/not a read-only query \(DROP\)/);
    await expect(engine.query("SET threads = 1")).rejects.toThrow(/not a read-only query \(SET\)/);
    await expect(engine.query("CREATE TABLE t AS SELECT 1 AS x")).rejects.toThrow(/\(CREATE\)/);
    await expect(engine.query(`ATTACH '${join(dir, "other.db")}'`)).rejects.toThrow(/\(ATTACH\)/);
    // Nothing was dropped: the table still answers.
    expect((await engine.query("SELECT count(*) > 0 AS ok FROM events")).rows).toEqual([{ ok: true }]);
  });

  it("runs SELECT, WITH, VALUES, DESCRIBE, SHOW and EXPLAIN, with a trailing semicolon and comments", async () => {
    expect((await engine.query("-- a comment\nSELECT 1 AS a;")).rows).toEqual([{ a: 1 }]);
    expect((await engine.query("WITH x AS (SELECT 2 AS b) SELECT b FROM x")).rows).toEqual([{ b: 2 }]);
    expect((await engine.query("VALUES (1), (2)")).rows).toHaveLength(2);
    const described = await engine.query("DESCRIBE events");
    expect(described.rows.map((r) => r.column_name)).toContain("properties");
    expect((await engine.query("SHOW TABLES")).rows.map((r) => r.name)).toContain("events");
    const explained = await engine.query(
      "/* plan */ EXPLAIN SELECT count(*) FROM events WHERE dt = '2026-01-15'",
    );
    expect(explained.rows.length).toBeGreaterThan(0);
  });
});

describe("Athena idioms on the real tables", () => {
  it("CAST(json_extract(...) AS varchar) gives the unquoted value, and console-qualified names resolve", async () => {
    const day = "2026-01-15";
    const want = fixture.events.filter(
      (e) => e.event === "search_made" && e.event_time.startsWith(day) && e.properties.query === "cats",
    ).length;
    const result = await engine.query(
      `SELECT CAST(json_extract(properties, '$.query') AS varchar) AS q, count(*) AS n
       FROM awsdatacatalog.observatory_dev.events
       WHERE dt = '${day}' AND event = 'search_made' AND CAST(json_extract(properties, '$.query') AS varchar) = 'cats'
       GROUP BY 1`,
    );
    expect(result.rows).toEqual([{ q: "cats", n: want }]);
  });
});
