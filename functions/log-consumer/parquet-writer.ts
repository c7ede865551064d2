import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { LOGS_COLUMNS } from "../../contracts/logs-table.js";
import type { LogRow } from "./parse-log-event.js";

/** One DuckDB per process (Lambda environment): creating it costs more than writing a typical delivery. */
let instance: Promise<DuckDBInstance> | undefined;

function duckdb(): Promise<DuckDBInstance> {
  instance ??= DuckDBInstance.create(":memory:", { threads: "1" });
  return instance;
}

const sqlString = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** A UTF-16 half of a pair without its other half: JavaScript allows it, UTF-8 (and DuckDB's JSON reader) does not. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** JSON.stringify replacer: lone surrogates become U+FFFD, so one odd line never fails a whole delivery. */
function wellFormed(_key: string, value: unknown): unknown {
  return typeof value === "string" ? value.replace(LONE_SURROGATE, "\ufffd") : value;
}

/** Column types as read from our NDJSON: times arrive as epoch ms and are converted in the SELECT. */
function readType(duckdbType: string): string {
  return duckdbType === "TIMESTAMP_MS" ? "BIGINT" : duckdbType;
}

/**
 * Groups of rows -> one ZSTD Parquet file per group, each with exactly the `logs` columns
 * (contracts/logs-table.ts), sorted by time. DuckDB reads one temp NDJSON file of every row once
 * (it has json built in; no httpfs, so the caller uploads), then writes each group from memory.
 */
export async function logsParquetFiles(groups: readonly (readonly LogRow[])[]): Promise<Buffer[]> {
  if (groups.length === 0) return [];
  const directory = await mkdtemp(join(tmpdir(), "log-consumer-"));
  const input = join(directory, "rows.ndjson");
  const connection = await (await duckdb()).connect();
  try {
    const lines = groups.flatMap((rows, part) =>
      rows.map((row) => JSON.stringify({ ...row, _part: part }, wellFormed)),
    );
    await writeFile(input, lines.join("\n"));
    const columns = `{${[...LOGS_COLUMNS.map((c) => `${sqlString(c.name)}: ${sqlString(readType(c.duckdbType))}`), "'_part': 'INTEGER'"].join(", ")}}`;
    const select = LOGS_COLUMNS.map((c) =>
      c.duckdbType === "TIMESTAMP_MS"
        ? `CAST(epoch_ms("${c.name}") AS TIMESTAMP_MS) AS "${c.name}"`
        : `"${c.name}"`,
    ).join(", ");
    await connection.run(
      `CREATE TEMP TABLE delivery AS SELECT ${select}, _part FROM read_json(${sqlString(input)}, format = 'newline_delimited', columns = ${columns}, maximum_object_size = 16777216)`,
    );
    const files: Buffer[] = [];
    for (let part = 0; part < groups.length; part++) {
      const output = join(directory, `part-${part}.parquet`);
      const names = LOGS_COLUMNS.map((c) => `"${c.name}"`).join(", ");
      await connection.run(
        `COPY (SELECT ${names} FROM delivery WHERE _part = ${part} ORDER BY "time", log_id) TO ${sqlString(output)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      files.push(await readFile(output));
    }
    return files;
  } finally {
    connection.closeSync();
    await rm(directory, { recursive: true, force: true });
  }
}

/** Rows -> one ZSTD Parquet file (see logsParquetFiles). */
export async function logsParquet(rows: readonly LogRow[]): Promise<Buffer> {
  const [file] = await logsParquetFiles([rows]);
  return file as Buffer;
}
