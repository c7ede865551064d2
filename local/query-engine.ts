import { join, resolve } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  StatementType,
} from "@duckdb/node-api";
import type { EventSchema } from "../contracts/event-schema.js";
import { TABLES_PREFIX } from "../contracts/storage-layout.js";
import { plainInteger, type QueryResult } from "../query/query-result.js";
import { type TableSpec, tableCatalog } from "../query/table-catalog.js";
import { type MirrorReport, mirrorPrefix } from "./table-mirror.js";
import { installTrinoBridge, rewriteTrinoSql } from "./trino-bridge.js";

/**
 * Athena's local twin: DuckDB over the same Parquet the pipeline writes to S3. The objects under
 * `tables/` are mirrored from (local) S3 into a cache directory, and every table becomes a view over its
 * files with Hive partitioning, so `dt`/`hour` are string columns (as in Glue) and filters on them skip
 * files. The Trino bridge is installed on the connection, so Athena SQL runs unchanged.
 */

export interface LocalQueryEngineOptions {
  s3: S3Client;
  bucket: string;
  /** Where the mirrored Parquet lives (kept between runs: unchanged objects are not fetched again). */
  cacheDir: string;
  /** Declared event schemas: each gets its own table. Default: the demo's. */
  eventSchemas?: readonly EventSchema[];
  /**
   * Glue database names a query may qualify tables with (`awsdatacatalog.<db>.events`, `<db>.events`),
   * besides the components' default names: e.g. the deployed stack's OBSERVATORY_ATHENA_DATABASE.
   */
  databases?: readonly string[];
  onSyncProgress?: (done: number, total: number) => void;
}

/** One queryable table as the local engine sees it. */
export interface LocalTable {
  name: string;
  /** Directory holding the table's mirrored files. */
  directory: string;
  /** Its Parquet files (absolute paths). Empty: the view is an empty relation with the declared columns. */
  files: string[];
  partitionKeys: string[];
  spec?: TableSpec;
}

const TABLE_NAME = /^[a-z][a-z0-9_]*$/;

export class LocalQueryEngine {
  readonly tables = new Map<string, LocalTable>();
  lastSync?: MirrorReport;

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    private readonly options: LocalQueryEngineOptions,
  ) {}

  /** Opens an in-memory DuckDB with the Trino bridge, mirrors the tables and creates their views. */
  static async open(options: LocalQueryEngineOptions): Promise<LocalQueryEngine> {
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    const engine = new LocalQueryEngine(instance, connection, options);
    try {
      await installTrinoBridge(connection);
      await engine.refresh();
    } catch (error) {
      engine.close();
      throw error;
    }
    return engine;
  }

  /** Brings the mirror up to date with S3 and (re)creates every table's view. */
  async refresh(): Promise<MirrorReport> {
    const root = resolve(this.options.cacheDir, "objects");
    const report = await mirrorPrefix({
      s3: this.options.s3,
      bucket: this.options.bucket,
      prefix: TABLES_PREFIX,
      directory: root,
      onProgress: this.options.onSyncProgress,
    });
    this.lastSync = report;
    const previous = new Set(this.tables.keys());
    this.tables.clear();
    const specs = new Map(tableCatalog(this.options.eventSchemas).map((spec) => [spec.name, spec]));
    const tablesRoot = join(root, TABLES_PREFIX);
    const filesByTable = new Map<string, string[]>();
    for (const file of report.files) {
      const name = file.slice(tablesRoot.length).split("/")[0] ?? "";
      if (!TABLE_NAME.test(name)) continue;
      const list = filesByTable.get(name);
      if (list) list.push(file);
      else filesByTable.set(name, [file]);
    }
    for (const name of new Set([...specs.keys(), ...filesByTable.keys()])) {
      const spec = specs.get(name);
      const files = filesByTable.get(name) ?? [];
      const partitionKeys =
        spec?.partitionKeys.map((k) => k.name) ?? partitionKeysOf(files[0] ?? "", join(tablesRoot, name));
      const table: LocalTable = { name, directory: join(tablesRoot, name), files, partitionKeys, spec };
      this.tables.set(name, table);
      const fileColumns = files.length > 0 ? await this.columnsOf(parquetScan(table)) : new Set<string>();
      await this.connection.run(`CREATE OR REPLACE VIEW ${name} AS ${tableRelation(table, fileColumns)}`);
    }
    // An undeclared table whose last file is gone is gone: a view over no files would fail every query.
    for (const name of previous)
      if (!this.tables.has(name)) await this.connection.run(`DROP VIEW IF EXISTS ${name}`);
    return report;
  }

  /**
   * Runs one read-only Athena (Trino) query and returns its rows with plain JS values. Anything else
   * (COPY, DROP, SET, a second statement) is refused: see prepareReadOnlyQuery.
   */
  async query(sql: string): Promise<QueryResult> {
    const prepared = await prepareReadOnlyQuery(this.connection, await this.toDuckDbSql(sql));
    const reader = await prepared.runAndReadAll();
    const names = reader.columnNames();
    const types = reader.columnTypes().map(String);
    const converters = types.map(converterFor);
    const values = reader.getRows();
    const rows = reader.getRowsJS().map((jsValues, r) => {
      const row: Record<string, unknown> = {};
      names.forEach((name, i) => {
        row[name] = converters[i]!(jsValues[i], values[r]![i]);
      });
      return row;
    });
    return { engine: "local", columns: names.map((name, i) => ({ name, type: types[i]! })), rows };
  }

  /** Athena SQL as this engine runs it: Trino calls bridged, database qualifiers dropped (trino-bridge.ts). */
  async toDuckDbSql(sql: string): Promise<string> {
    const { explain, statement } = splitExplain(sql);
    return (
      explain + (await rewriteTrinoSql(this.connection, statement, { databases: this.options.databases }))
    );
  }

  private async columnsOf(relation: string): Promise<Set<string>> {
    const reader = await this.connection.runAndReadAll(`DESCRIBE ${relation}`);
    return new Set(reader.getRowObjectsJS().map((r) => String(r.column_name)));
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** What the local engine runs, as Athena's query editor would: one statement that only reads. */
export const READ_ONLY_QUERY_KINDS = "SELECT, WITH, VALUES, SHOW, DESCRIBE or EXPLAIN";

/**
 * `EXPLAIN [ANALYZE] [VERBOSE] [(options)]` at the start of a statement, after any comments: what is
 * explained must itself be a read-only query (DuckDB's EXPLAIN ANALYZE executes it).
 */
const EXPLAIN_PREFIX =
  /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*EXPLAIN\b(?:\s+ANALYZE\b)?(?:\s+VERBOSE\b)?(?:\s*\([^)]*\))?\s*/i;

export function splitExplain(sql: string): { explain: string; statement: string } {
  const match = EXPLAIN_PREFIX.exec(sql);
  return match
    ? { explain: match[0], statement: sql.slice(match[0].length) }
    : { explain: "", statement: sql };
}

/**
 * Prepares `sql` if it is exactly one read-only query; otherwise a clear error. Athena's StartQueryExecution
 * takes one statement, and `observatory query` promises "the same SQL runs on Athena": a DuckDB COPY,
 * DROP VIEW or SET must not pass locally, nor a second statement be silently dropped. DuckDB's parser
 * decides (statement count and type), so literals and comments cannot fool it. SHOW/DESCRIBE/PRAGMA
 * table listings are SELECT statements to DuckDB and pass.
 */
export async function prepareReadOnlyQuery(
  connection: DuckDBConnection,
  sql: string,
): Promise<DuckDBPreparedStatement> {
  const extracted = await connection.extractStatements(sql);
  if (extracted.count !== 1) {
    throw new Error(
      `the local engine runs exactly one query (${READ_ONLY_QUERY_KINDS}), as Athena does; got ${extracted.count === 0 ? "none" : `${extracted.count} statements`}: run them one at a time`,
    );
  }
  const prepared = await extracted.prepare(0);
  const type = prepared.statementType;
  if (type === StatementType.EXPLAIN) {
    const { explain, statement } = splitExplain(sql);
    if (!explain) throw notReadOnly("EXPLAIN");
    const inner = await connection.extractStatements(statement);
    if (inner.count !== 1 || (await inner.prepare(0)).statementType !== StatementType.SELECT)
      throw notReadOnly("EXPLAIN of a statement that is not a query");
    return prepared;
  }
  if (type !== StatementType.SELECT) throw notReadOnly(StatementType[type] ?? `type ${type}`);
  return prepared;
}

function notReadOnly(kind: string): Error {
  return new Error(
    `not a read-only query (${kind}): the local engine runs only ${READ_ONLY_QUERY_KINDS} statements, so that what runs here runs on Athena too`,
  );
}

function parquetScan(table: LocalTable): string {
  // hive_types_autocast=false: partition values stay strings, as the Glue tables declare them.
  // union_by_name: files written before a property column existed still read (NULL in it).
  return `SELECT * FROM read_parquet(${sqlString(`${table.directory}/**/*.parquet`)}, hive_partitioning = true, hive_types_autocast = false, union_by_name = true)`;
}

/**
 * The SQL a table's view selects from. A declared table shows exactly its declared columns, as its Glue
 * table does on Athena: a declared column no file holds yet reads as NULL, a file column the contract
 * does not declare is not shown. An undeclared table (found in S3 only) shows what its files hold.
 */
export function tableRelation(table: LocalTable, fileColumns: ReadonlySet<string>): string {
  const spec = table.spec;
  if (!spec) {
    if (table.files.length === 0)
      throw new Error(`table ${table.name} has neither files nor a declared schema`);
    return parquetScan(table);
  }
  const columns = [...spec.columns, ...spec.partitionKeys].map((c) =>
    fileColumns.has(c.name)
      ? sqlIdentifier(c.name)
      : `CAST(NULL AS ${c.duckdbType}) AS ${sqlIdentifier(c.name)}`,
  );
  return table.files.length > 0
    ? `SELECT ${columns.join(", ")} FROM (${parquetScan(table)})`
    : `SELECT ${columns.join(", ")} WHERE false`;
}

function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function partitionKeysOf(file: string, tableDirectory: string): string[] {
  return file
    .slice(tableDirectory.length + 1)
    .split("/")
    .slice(0, -1)
    .map((segment) => segment.split("=")[0] ?? "")
    .filter((key) => TABLE_NAME.test(key));
}

export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Doubles hold 15 significant digits; wider decimals are returned as their exact text. */
const MAX_EXACT_DECIMAL_DIGITS = 15;

/**
 * How a column's values become plain JS values, matching what the Athena runner returns for the same
 * type (query/athena-runner.ts athenaValue): dates as `YYYY-MM-DD`, wide decimals and times as text.
 */
function converterFor(type: string): (js: unknown, value: unknown) => unknown {
  const text = (_js: unknown, value: unknown) =>
    value === null || value === undefined ? null : String(value);
  if (type === "DATE") return (js) => (js instanceof Date ? js.toISOString().slice(0, 10) : js);
  if (type === "TIME" || type === "TIME WITH TIME ZONE" || type === "INTERVAL" || type === "BLOB")
    return text;
  const decimal = /^DECIMAL\((\d+),/.exec(type);
  if (decimal && Number(decimal[1]) > MAX_EXACT_DECIMAL_DIGITS) return text;
  if (type.startsWith("MAP(")) {
    return (js) =>
      Array.isArray(js)
        ? Object.fromEntries(
            js.map((e: { key: unknown; value: unknown }) => [String(e.key), plainValue(e.value)]),
          )
        : js;
  }
  return (js) => plainValue(js);
}

function plainValue(value: unknown): unknown {
  if (typeof value === "bigint") return plainInteger(value);
  if (Array.isArray(value)) return value.map(plainValue);
  if (value && typeof value === "object" && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainValue(v)]));
  }
  return value;
}
