import { cpus } from "node:os";
import type { DuckDBConnection } from "@duckdb/node-api";
import { DUCKDB_MEMORY_SHARE, PARQUET_ZSTD_LEVEL } from "./limits.js";

/** A DuckDB connection set up for batch work on local temp files (no httpfs: S3 goes through the SDK). */
export interface DuckDB {
  connection: DuckDBConnection;
  /** Another connection to the same database (same tables), for statements run side by side. */
  connect(): Promise<DuckDBConnection>;
  close(): void;
}

/** COPY ... TO options of every Parquet file the job writes (staged chunk files and merged partitions). */
export const PARQUET_COPY_OPTIONS = `FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${PARQUET_ZSTD_LEVEL}`;

/** Per-connection settings. Timestamps in the raw zone are UTC; every conversion must be too. */
const SESSION_SETTINGS = ["SET TimeZone = 'UTC'"];

export async function openDuckDB(options: {
  tempDirectory: string;
  memoryMb?: number;
  threads?: number;
}): Promise<DuckDB> {
  // Loaded on first use: the planner Lambda (no DuckDB layer) and Pulumi programs that import the job's
  // spec must not load the native module.
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  const memoryMb = options.memoryMb ?? lambdaMemoryMb();
  const settings = [
    ...SESSION_SETTINGS,
    `SET temp_directory = ${sqlString(options.tempDirectory)}`,
    // Row order inside a COPY does not matter to us (we sort explicitly); not preserving it lets
    // DuckDB stream and parallelise the write with far less memory.
    "SET preserve_insertion_order = false",
    `SET threads = ${options.threads ?? Math.max(1, cpus().length)}`,
  ];
  if (memoryMb) settings.push(`SET memory_limit = '${Math.floor(memoryMb * DUCKDB_MEMORY_SHARE)}MB'`);
  for (const statement of settings) await connection.run(statement);
  const others: DuckDBConnection[] = [];
  return {
    connection,
    async connect() {
      const other = await instance.connect();
      for (const statement of SESSION_SETTINGS) await other.run(statement);
      others.push(other);
      return other;
    },
    close() {
      for (const other of others) other.closeSync();
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** The function's memory on Lambda (set by the runtime); undefined elsewhere (DuckDB's own default). */
function lambdaMemoryMb(): number | undefined {
  const value = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** A SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A quoted SQL identifier. */
export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A DuckDB list literal of strings, e.g. the files a read_json/read_parquet call reads. */
export function sqlStringList(values: string[]): string {
  return `[${values.map(sqlString).join(", ")}]`;
}
