import type { DuckDBConnection } from "@duckdb/node-api";
import { PARQUET_COPY_OPTIONS, sqlIdentifier, sqlString, sqlStringList } from "./duckdb.js";
import type { CompactionTable } from "./tables.js";
import { rows } from "./transform.js";

/**
 * Merges one table partition: the files it already holds plus the chunks' new staged files -> ONE
 * ZSTD Parquet file, deduplicated by the table's key (a row already compacted wins over a new copy; among
 * new copies the earliest chunk wins), sorted by time so Parquet min/max statistics prune well.
 * Columns are projected onto the table's current columns: a column an older file lacks reads as NULL.
 */
export async function mergePartition(
  connection: DuckDBConnection,
  options: { table: CompactionTable; existingFiles: string[]; stagedFiles: string[]; outFile: string },
): Promise<{ rows: number; duplicates: number }> {
  const files = [...options.existingFiles, ...options.stagedFiles];
  if (files.length === 0) throw new Error(`mergePartition ${options.table.name}: no input files`);
  const available = new Set(
    (
      await rows<{ column_name: string }>(
        connection,
        `DESCRIBE SELECT * FROM read_parquet(${sqlStringList(files)}, union_by_name = true)`,
      )
    ).map((r) => r.column_name),
  );
  const select = options.table.columns
    .map(
      (c) =>
        `CAST(${available.has(c.name) ? sqlIdentifier(c.name) : "NULL"} AS ${c.duckdbType}) AS ${sqlIdentifier(c.name)}`,
    )
    .join(", ");
  const time = sqlIdentifier(options.table.timeColumn);
  // list_position: the file's place in `files` - existing files first, then chunks in order.
  await connection.run(`CREATE OR REPLACE TEMP TABLE merged AS
    SELECT ${select},
      row_number() OVER (PARTITION BY ${options.table.dedupKey} ORDER BY list_position(${sqlStringList(files)}, filename), ${time}) AS copy_no
    FROM read_parquet(${sqlStringList(files)}, union_by_name = true, filename = true)`);
  const counts = await rows<{ kept: bigint; duplicates: bigint }>(
    connection,
    "SELECT count(*) FILTER (WHERE copy_no = 1) AS kept, count(*) FILTER (WHERE copy_no > 1) AS duplicates FROM merged",
  );
  const columns = options.table.columns.map((c) => sqlIdentifier(c.name)).join(", ");
  await connection.run(`COPY (SELECT ${columns} FROM merged WHERE copy_no = 1 ORDER BY ${time})
    TO ${sqlString(options.outFile)} (${PARQUET_COPY_OPTIONS})`);
  await connection.run("DROP TABLE merged");
  return { rows: Number(counts[0]?.kept ?? 0), duplicates: Number(counts[0]?.duplicates ?? 0) };
}
