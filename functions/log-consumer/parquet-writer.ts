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
 * Rows -> one ZSTD Parquet file with exactly the `logs` columns (contracts/logs-table.ts), sorted by
 * time. DuckDB reads a temp NDJSON file (it has json built in; no httpfs, so the caller uploads).
 */
export async function logsParquet(rows: readonly LogRow[]): Promise<Buffer> {
  const directory = await mkdtemp(join(tmpdir(), "log-consumer-"));
  const input = join(directory, "rows.ndjson");
  const output = join(directory, "rows.parquet");
  const connection = await (await duckdb()).connect();
  try {
    await writeFile(input, rows.map((row) => JSON.stringify(row, wellFormed)).join("\n"));
    const columns = `{${LOGS_COLUMNS.map((c) => `${sqlString(c.name)}: ${sqlString(readType(c.duckdbType))}`).join(", ")}}`;
    const select = LOGS_COLUMNS.map((c) =>
      c.duckdbType === "TIMESTAMP_MS"
        ? `CAST(epoch_ms("${c.name}") AS TIMESTAMP_MS) AS "${c.name}"`
        : `"${c.name}"`,
    ).join(", ");
    await connection.run(
      `COPY (SELECT ${select} FROM read_json(${sqlString(input)}, format = 'newline_delimited', columns = ${columns}, maximum_object_size = 16777216) ORDER BY "time", log_id)
       TO ${sqlString(output)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    return await readFile(output);
  } finally {
    connection.closeSync();
    await rm(directory, { recursive: true, force: true });
  }
}
