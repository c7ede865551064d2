import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCostCommand } from "../cli/commands/cost.js";
import { LOGS_COLUMNS } from "../contracts/logs-table.js";
import { LocalQueryEngine } from "../local/query-engine.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { ATHENA_MINIMUM_BILLED_BYTES, athenaPriceUsd } from "../query/athena-pricing.js";
import { estimateScan, splitParenthesized } from "../query/scan-estimate.js";
import { writeQueryFixture } from "./query-fixtures.js";

let dir: string;
let s3: LocalS3;
let engine: LocalQueryEngine;
/** Ground truth read straight from the Parquet footers: (table, dt, hour, column) -> compressed bytes. */
let chunks: { table: string; dt: string; hour: string; column: string; bytes: number }[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "obs-cost-"));
  s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
  await writeQueryFixture({ s3: s3.client, bucket: s3.bucket, workDir: join(dir, "work"), events: 3000 });
  await writeLogsTable();
  engine = await LocalQueryEngine.open({ s3: s3.client, bucket: s3.bucket, cacheDir: join(dir, "cache") });
  const instance = await DuckDBInstance.create(":memory:");
  const db = await instance.connect();
  const reader = await db.runAndReadAll(
    `SELECT file_name, path_in_schema, total_compressed_size FROM parquet_metadata('${join(dir, "cache")}/**/*.parquet')`,
  );
  chunks = reader
    .getRowObjectsJS()
    .filter((r) => !String(r.file_name).includes("/tables/logs/"))
    .map((r) => {
      const [, table, dt, hour] = /tables\/([^/]+)\/dt=([^/]+)\/hour=([^/]+)\//.exec(String(r.file_name))!;
      return {
        table: table!,
        dt: dt!,
        hour: hour!,
        column: String(r.path_in_schema).split(", ")[0]!,
        bytes: Number(r.total_compressed_size),
      };
    });
  db.closeSync();
  instance.closeSync();
}, 60_000);
afterAll(async () => {
  engine?.close();
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The `logs` table (H5's layout: dt/service partitions, LOGS_COLUMNS), 100 lines per partition. */
async function writeLogsTable(): Promise<void> {
  const instance = await DuckDBInstance.create(":memory:");
  const db = await instance.connect();
  const columns = LOGS_COLUMNS.map((c) =>
    c.name === "message"
      ? "'request handled ' || i AS message"
      : c.name === "level"
        ? "'INFO' AS level"
        : `CAST(NULL AS ${c.duckdbType}) AS "${c.name}"`,
  ).join(", ");
  for (const [dt, service] of [
    ["2026-01-15", "search"],
    ["2026-01-15", "images"],
    ["2026-01-16", "search"],
  ]) {
    const file = join(dir, `logs-${dt}-${service}.parquet`);
    await db.run(
      `COPY (SELECT ${columns} FROM range(100) t(i)) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`,
    );
    const body = await readFile(file);
    await s3.client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: `tables/logs/dt=${dt}/service=${service}/part.parquet`,
        Body: body,
      }),
    );
  }
  db.closeSync();
  instance.closeSync();
}

const truth = (table: string, columns: string[], keep: (dt: string, hour: string) => boolean = () => true) =>
  chunks
    .filter((c) => c.table === table && columns.includes(c.column) && keep(c.dt, c.hour))
    .reduce((sum, c) => sum + c.bytes, 0);
const filesOf = (table: string, keep: (dt: string, hour: string) => boolean = () => true) =>
  new Set(chunks.filter((c) => c.table === table && keep(c.dt, c.hour)).map((c) => `${c.dt}/${c.hour}`)).size;

describe("estimateScan", () => {
  it("counts only the columns a query reads", async () => {
    const estimate = await estimateScan(engine, "SELECT user_id, count(*) FROM events GROUP BY user_id");
    expect(estimate.scans).toHaveLength(1);
    expect(estimate.scans[0]!.columns).toEqual(["user_id"]);
    expect(estimate.bytesScanned).toBe(truth("events", ["user_id"]));
    expect(estimate.scans[0]!.tableBytes).toBeGreaterThan(estimate.bytesScanned * 5);
    expect(estimate.notes).toEqual([
      expect.stringMatching(
        /^events: reads all \d+ partitions; a filter on dt\/hour \(e\.g\. dt = '\.\.\.'\) would scan only/,
      ),
    ]);
  });

  it("does not advise a partition filter to a query that has one every partition passes", async () => {
    const estimate = await estimateScan(engine, "SELECT user_id FROM events WHERE dt >= '2000-01-01'");
    expect(estimate.scans[0]!.files).toBe(estimate.scans[0]!.filesTotal);
    expect(estimate.notes).toEqual([
      expect.stringMatching(/^events: every one of its \d+ partitions matches the filter on dt\/hour$/),
    ]);
    const grouped = await estimateScan(engine, "SELECT dt, count(user_id) FROM events GROUP BY dt");
    expect(grouped.notes).toEqual([
      expect.stringMatching(/^events: reads all \d+ partitions; a filter on dt/),
    ]);
  });

  it("counts the columns a filter reads, too", async () => {
    const estimate = await estimateScan(engine, "SELECT user_id FROM events WHERE event = 'search_made'");
    expect(estimate.scans[0]!.columns.sort()).toEqual(["event", "user_id"]);
    expect(estimate.bytesScanned).toBe(truth("events", ["event", "user_id"]));
  });

  it("prunes partitions by dt and hour, including OR-ed combinations", async () => {
    const day = await estimateScan(engine, "SELECT user_id FROM events WHERE dt = '2026-01-15'");
    expect(day.scans[0]!.files).toBe(filesOf("events", (dt) => dt === "2026-01-15"));
    expect(day.scans[0]!.files).toBeLessThan(day.scans[0]!.filesTotal);
    expect(day.bytesScanned).toBe(truth("events", ["user_id"], (dt) => dt === "2026-01-15"));
    expect(day.notes).toEqual([]);

    const two = await estimateScan(
      engine,
      "SELECT count(*) FROM events WHERE (dt = '2026-01-15' AND hour = '01') OR (dt = '2026-01-14' AND hour = '23' AND event = 'x')",
    );
    // The mixed OR cannot prune exactly; DuckDB derives dt IN (..) and hour IN (..) from it, as Trino
    // derives per-column domains: the files of that cross product are read.
    expect(two.scans[0]!.files).toBe(
      filesOf(
        "events",
        (dt, hour) => ["2026-01-15", "2026-01-14"].includes(dt) && ["01", "23"].includes(hour),
      ),
    );
    expect(two.scans[0]!.files).toBeLessThan(5);
    expect(two.notes).toEqual([]);
  });

  it("skips row groups whose min/max statistics rule a pushed filter out", async () => {
    const estimate = await estimateScan(
      engine,
      "SELECT user_id FROM events WHERE event_time >= TIMESTAMP '2026-01-15 10:00:00'",
    );
    const later = (dt: string, hour: string) => `${dt} ${hour}` >= "2026-01-15 10";
    const scan = estimate.scans[0]!;
    expect(scan.columns.sort()).toEqual(["event_time", "user_id"]);
    expect(scan.rowGroups).toBe(filesOf("events", later));
    expect(scan.rowGroups).toBeLessThan(scan.rowGroupsInFiles);
    expect(estimate.bytesScanned).toBe(truth("events", ["event_time", "user_id"], later));

    // No row group can hold n_results > 1e6: nothing is read (DuckDB may even plan no scan at all).
    const none = await estimateScan(engine, "SELECT count(*) FROM search_made WHERE n_results > 1000000");
    expect(none.scans.every((s) => s.rowGroups === 0)).toBe(true);
    expect(none.bytesScanned).toBe(0);
    const nulls = await estimateScan(
      engine,
      "SELECT count(*) FROM events WHERE stage IS NOT NULL AND dt = '2026-01-15'",
    );
    expect(nulls.scans[0]!.rowGroups).toBe(filesOf("events", (dt) => dt === "2026-01-15"));
  });

  it("never prunes a file by a predicate on data columns (IS NOT NULL is unknown per file)", async () => {
    const estimate = await estimateScan(
      engine,
      "SELECT sum(image_size) FROM downloaded_img WHERE user_id IS NOT NULL AND dt = '2026-01-15'",
    );
    expect(estimate.scans[0]!.files).toBe(filesOf("downloaded_img", (dt) => dt === "2026-01-15"));
    expect(estimate.bytesScanned).toBe(
      truth("downloaded_img", ["image_size", "user_id"], (dt) => dt === "2026-01-15"),
    );
  });

  it("attributes each scan of a join to its own table", async () => {
    const estimate = await estimateScan(
      engine,
      "SELECT d.user_id, sum(d.image_size) FROM downloaded_img d JOIN events e ON e.event_id = d.event_id WHERE d.dt = '2026-01-15' GROUP BY 1",
    );
    const byTable = Object.fromEntries(estimate.scans.map((s) => [s.table, s]));
    expect(Object.keys(byTable).sort()).toEqual(["downloaded_img", "events"]);
    expect(byTable.downloaded_img!.columns.sort()).toEqual(["event_id", "image_size", "user_id"]);
    expect(byTable.downloaded_img!.files).toBe(filesOf("downloaded_img", (dt) => dt === "2026-01-15"));
    expect(byTable.events!.columns).toEqual(["event_id"]);
    expect(estimate.bytesScanned).toBe(
      truth("downloaded_img", ["event_id", "image_size", "user_id"], (dt) => dt === "2026-01-15") +
        truth("events", ["event_id"]),
    );
  });

  it("prunes the logs table by its own partition keys (dt, service)", async () => {
    const result = await engine.query(
      "SELECT service, count(*) AS n FROM logs WHERE dt = '2026-01-15' GROUP BY service ORDER BY service",
    );
    expect(result.rows).toEqual([
      { service: "images", n: 100 },
      { service: "search", n: 100 },
    ]);
    const estimate = await estimateScan(engine, "SELECT message FROM logs WHERE service = 'search'");
    expect(estimate.scans[0]).toMatchObject({ table: "logs", files: 2, filesTotal: 3, columns: ["message"] });
  });

  it("prices the scan as Athena bills it, 10 MB minimum", async () => {
    const estimate = await estimateScan(engine, "SELECT count(*) FROM events");
    expect(estimate.bytesScanned).toBe(0);
    expect(estimate.billedBytes).toBe(ATHENA_MINIMUM_BILLED_BYTES);
    expect(estimate.priceUsd).toBe(athenaPriceUsd(0));
  });

  it("reads Trino SQL through the bridge and every column for SELECT *", async () => {
    const estimate = await estimateScan(
      engine,
      "SELECT * FROM quarantine CROSS JOIN UNNEST(reasons) AS r (reason)",
    );
    expect(estimate.bytesScanned).toBe(estimate.scans[0]!.tableBytes);
    const json = await estimateScan(
      engine,
      "SELECT json_extract_scalar(properties, '$.query') FROM events WHERE dt = '2026-01-15'",
    );
    expect(json.scans[0]!.columns).toEqual(["properties"]);
  });
});

describe("estimateScan on a statement that does not bind", () => {
  it("fails on an unknown table instead of pricing it as reading nothing", async () => {
    await expect(estimateScan(engine, "SELECT * FROM nosuch")).rejects.toThrow(
      /Table with name nosuch does not exist/,
    );
    await expect(estimateScan(engine, "SELECT nope FROM events")).rejects.toThrow(/nope/);
  });

  it("still prices a table the local stack holds no files of", async () => {
    // A bucket with no tables yet: every declared table is a view over no files (a fresh `observatory dev`).
    await s3.client.send(new CreateBucketCommand({ Bucket: "obs-cost-empty" }));
    const fresh = await LocalQueryEngine.open({
      s3: s3.client,
      bucket: "obs-cost-empty",
      cacheDir: join(dir, "cache-empty"),
    });
    try {
      const estimate = await estimateScan(fresh, "SELECT user_id FROM events");
      expect(estimate.scans).toEqual([]);
      expect(estimate.bytesScanned).toBe(0);
    } finally {
      fresh.close();
    }
  });
});

describe("splitParenthesized", () => {
  it("splits DuckDB's back-to-back file filters, not parentheses inside strings", () => {
    expect(splitParenthesized("((hour = '01') OR (hour = '23'))((dt = '2026-01-15'))")).toEqual([
      "((hour = '01') OR (hour = '23'))",
      "((dt = '2026-01-15'))",
    ]);
    expect(splitParenthesized("(dt = 'a)(b')")).toEqual(["(dt = 'a)(b')"]);
    expect(splitParenthesized("event='x'")).toEqual(["event='x'"]);
    expect(splitParenthesized("(q = '🚀 (launch')(dt = 'a')")).toEqual(["(q = '🚀 (launch')", "(dt = 'a')"]);
  });
});

describe("observatory cost with no SQL", () => {
  it("gives cost's own usage hint, naming only options cost has", async () => {
    const io = { stdout: process.stdout, stderr: process.stderr, env: {} };
    await expect(runCostCommand(undefined, { format: "table" }, io)).rejects.toThrow(
      'no SQL given: observatory cost "SELECT ..." (or - to read stdin, --named <name>, --all-named)',
    );
  });
});
