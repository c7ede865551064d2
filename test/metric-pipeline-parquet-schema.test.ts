/**
 * The Glue tables MetricPipeline declares must read what the compaction worker really writes: run the
 * worker's own transform (functions/compaction/transform.ts, DuckDB) over realistic raw and quarantine
 * objects, then compare each Parquet file's schema with the Glue columns of the deployed table.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { glueColumns, locationTemplate } from "../components/metric-pipeline/glue-table.js";
import type { QuarantineRecord, RawEventRecord } from "../contracts/event-record.js";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { type DuckDB, openDuckDB } from "../functions/compaction/duckdb.js";
import { COMPACTED_FILE, compactedKey } from "../functions/compaction/keys.js";
import { eventTables } from "../functions/compaction/tables.js";
import { compactFiles, rows, type StagedPartitionFile } from "../functions/compaction/transform.js";
import {
  installMocks,
  type MockedResource,
  ofType,
  valueOf as outputOf,
  settle,
} from "./support/pulumi-mocks.js";

const work = mkdtempSync(path.join(tmpdir(), "observatory-parquet-schema-"));
let db: DuckDB;
let resources: MockedResource[];
const files: Record<string, StagedPartitionFile> = {};
afterAll(() => {
  db?.close();
  rmSync(work, { recursive: true, force: true });
});

function rawRecord(i: number, event: string, properties: Record<string, unknown>): RawEventRecord {
  return {
    event_id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    event,
    event_time: `2026-11-22T14:${String(i % 60).padStart(2, "0")}:07.123Z`,
    received_at: "2026-11-22T14:59:59.500Z",
    user_id: i % 3 === 0 ? null : `user-${i % 7}`,
    anonymous_id: i % 3 === 0 ? `anon-${i}` : null,
    correlation_id: `corr-${i}`,
    service: "shop",
    stage: "dev",
    properties,
    context: { library: { name: "observatory", version: "0.1.0" }, ip: "203.0.113.9" },
    schema_version: properties.query || properties.image_id ? 1 : null,
    request_id: `req-${Math.floor(i / 10)}`,
  };
}

beforeAll(async () => {
  const raw = [
    ...Array.from({ length: 20 }, (_, i) =>
      rawRecord(i, "search_made", { query: `cats ${i} ü`, n_results: i * 3 }),
    ),
    ...Array.from({ length: 20 }, (_, i) =>
      rawRecord(100 + i, "downloaded_img", { image_id: `img-${i}`, image_size: 1000 + i }),
    ),
    ...Array.from({ length: 20 }, (_, i) =>
      rawRecord(200 + i, "uploaded_img", { image_id: `img-${i}`, image_size: 5000 + i }),
    ),
    ...Array.from({ length: 5 }, (_, i) => rawRecord(300 + i, "page_viewed", { path: `/p/${i}` })),
  ];
  const quarantine: QuarantineRecord[] = Array.from({ length: 4 }, (_, i) => ({
    quarantined_at: "2026-11-22T14:30:00.000Z",
    request_id: `bad-${i}`,
    correlation_id: `corr-bad-${i}`,
    status: i === 0 ? 400 : 200,
    index: i === 0 ? null : i,
    event_id: i === 0 ? null : `bad-event-${i}`,
    event: i === 0 ? null : "search_made",
    reasons: ["properties.n_results must be integer", "identity: user_id or anonymous_id required"],
    payload:
      i === 0 ? "{not json" : JSON.stringify({ event: "search_made", properties: { n_results: "many" } }),
    payload_encoding: i === 0 ? "utf8" : "json",
  }));
  const rawFile = path.join(work, "raw.ndjson.gz");
  const quarantineFile = path.join(work, "quarantine.ndjson.gz");
  writeFileSync(rawFile, gzipSync(raw.map((r) => JSON.stringify(r)).join("\n")));
  writeFileSync(quarantineFile, gzipSync(quarantine.map((r) => JSON.stringify(r)).join("\n")));

  db = await openDuckDB({ tempDirectory: path.join(work, "tmp"), threads: 1 });
  const tables = eventTables(DEMO_EVENT_SCHEMAS);
  const events = await compactFiles(db.connection, {
    kind: "events",
    inputFiles: [rawFile],
    tables,
    outDirectory: path.join(work, "out"),
  });
  const rejected = await compactFiles(db.connection, {
    kind: "quarantine",
    inputFiles: [quarantineFile],
    tables,
    outDirectory: path.join(work, "out"),
  });
  for (const f of [...events.files, ...rejected.files]) files[f.table] ??= f;

  resources = await installMocks();
  const { MetricPipeline } = await import("../components/metric-pipeline.js");
  const pipeline = new MetricPipeline("schema", { eventSchemas: DEMO_EVENT_SCHEMAS, compaction: false });
  await outputOf(pipeline.databaseName);
  await settle();
}, 120_000);

/** What a Glue (Hive) type must be in the Parquet file for Athena to read it: DuckDB's reading of the file. */
const PARQUET_TYPE_FOR_GLUE: Record<string, string> = {
  string: "VARCHAR",
  bigint: "BIGINT",
  int: "INTEGER",
  double: "DOUBLE",
  boolean: "BOOLEAN",
  "array<string>": "VARCHAR[]",
  // DuckDB reads Parquet TIMESTAMP(MILLIS) back as TIMESTAMP; the physical INT64 millis is checked below.
  timestamp: "TIMESTAMP",
};

describe("Glue columns equal the Parquet schema the compaction worker writes", () => {
  it("projects partition locations onto exactly the keys the worker commits", () => {
    for (const table of ["events", "quarantine", "search_made"]) {
      const projected = locationTemplate("bucket", table)
        .replace(/\$\{dt\}/, "2026-11-22")
        .replace(/\$\{hour\}/, "07");
      expect(`${projected}${COMPACTED_FILE}`).toBe(
        `s3://bucket/${compactedKey(table, "dt=2026-11-22/hour=07/")}`,
      );
    }
    // The worker's staged partition paths are what the projection enumerates (hour with two digits).
    for (const f of Object.values(files)) expect(f.partitionPath).toBe(`dt=${f.dt}/hour=${f.hour}/`);
    expect(Object.values(files).every((f) => /^\d{2}$/.test(f.hour))).toBe(true);
  });

  it("refuses a column comment Glue would reject", () => {
    expect(() =>
      glueColumns([{ name: "x", glueType: "string", duckdbType: "VARCHAR", comment: "c".repeat(256) }]),
    ).toThrow(/255/);
  });

  it("for every table: names, order and types", async () => {
    const glueTables = ofType(resources, "aws:glue/catalogTable:CatalogTable").filter((t) =>
      t.name.startsWith("schema-table-"),
    );
    expect(Object.keys(files).sort()).toEqual(glueTables.map((t) => t.inputs.name as string).sort());
    for (const table of glueTables) {
      const name = table.inputs.name as string;
      const file = files[name] as StagedPartitionFile;
      const described = await rows<{ column_name: string; column_type: string }>(
        db.connection,
        `DESCRIBE SELECT * FROM read_parquet('${file.path}', hive_partitioning = false)`,
      );
      const glue = (table.inputs.storageDescriptor as { columns: { name: string; type: string }[] }).columns;
      expect(
        described.map((d) => [d.column_name, d.column_type]),
        name,
      ).toEqual(glue.map((c) => [c.name, PARQUET_TYPE_FOR_GLUE[c.type] ?? `unmapped ${c.type}`]));
      // Partition values live in the path only, as Glue's partition keys expect.
      expect(described.map((d) => d.column_name)).not.toContain("dt");
      expect(file.partitionPath).toMatch(/^dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/$/);
    }
  });

  it("writes timestamps as INT64 milliseconds (UTC values), compressed with ZSTD", async () => {
    const values = await rows<{ t: string }>(
      db.connection,
      `SELECT strftime(min(event_time), '%Y-%m-%dT%H:%M:%S.%g') AS t FROM read_parquet('${files.events?.path}')`,
    );
    expect(values[0]?.t).toBe("2026-11-22T14:00:07.123");
    const schema = await rows<{ name: string; type: string; logical_type: string | null }>(
      db.connection,
      `SELECT name, type, logical_type::VARCHAR AS logical_type FROM parquet_schema('${files.events?.path}') WHERE name IN ('event_time', 'received_at')`,
    );
    expect(schema).toHaveLength(2);
    for (const column of schema) {
      expect(column.type).toBe("INT64");
      // The values are UTC wall-clock times (isAdjustedToUTC=0, a naive timestamp): Athena's `timestamp`
      // is naive too, and reads INT64 millis from either flag without a zone shift.
      expect(column.logical_type).toMatch(/MILLIS/i);
    }
    const codecs = await rows<{ compression: string }>(
      db.connection,
      `SELECT DISTINCT compression FROM parquet_metadata('${files.events?.path}')`,
    );
    expect(codecs.map((c) => c.compression)).toEqual(["ZSTD"]);
  });
});
