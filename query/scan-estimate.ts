import type { DuckDBConnection } from "@duckdb/node-api";
import { type LocalQueryEngine, type LocalTable, sqlString } from "../local/query-engine.js";
import { athenaBilledBytes, athenaPriceUsd } from "./athena-pricing.js";

/**
 * The bytes a query would scan on Athena, estimated on the local engine without running it:
 *
 * 1. DuckDB plans the query (EXPLAIN, JSON). Each READ_PARQUET node in the plan is one table scan and
 *    names the columns it projects, the filters pushed into it, and the partition filter it prunes by.
 *    When several tables are involved, each is planned alone with the others swapped for empty stand-ins,
 *    so every scan is known to belong to its table.
 * 2. Files: of the scan's predicates (its file filters, pushed filters and the FILTER node right above
 *    it), those that read only partition keys are evaluated against each file's partition values; a
 *    file is pruned when one is false for it - the way Athena prunes with partition projection.
 *    Predicates that also read other columns cannot prune a file and are left out. (DuckDB already
 *    derives partition-only filters from mixed ones, e.g. `(dt='a' AND x=1) OR (dt='b' AND y=2)` gives
 *    `dt='a' OR dt='b'`.)
 * 3. Row groups: the filters DuckDB pushes into the scan that compare one column with a constant
 *    (`=`, `<`, `<=`, `>`, `>=`, `IS NOT NULL`) skip the row groups whose min/max statistics (or null
 *    count) say no row can match - what Athena's Parquet reader does. Other filters skip nothing.
 * 4. Bytes: the compressed size of the column chunks of the columns read (projected or filtered on), in
 *    the row groups read, from the Parquet footers (parquet_metadata). Athena bills what it reads of a
 *    Parquet file: the chunks of the columns it needs.
 *
 * It stays an upper bound where Athena is cleverer (page indexes, dictionary filtering, OR-ed stats).
 */

export interface TableScan {
  table: string;
  files: number;
  filesTotal: number;
  columns: string[];
  /** Row groups read / in the files read (the rest skipped by min/max statistics). */
  rowGroups: number;
  rowGroupsInFiles: number;
  bytes: number;
  /** Every column of every file of the table: what reading it all (or raw JSON) would cost in comparison. */
  tableBytes: number;
}

export interface ScanEstimate {
  scans: TableScan[];
  bytesScanned: number;
  billedBytes: number;
  priceUsd: number;
  notes: string[];
}

interface PlanNode {
  name: string;
  children?: PlanNode[];
  extra_info?: Record<string, string | string[]>;
}

interface ParquetScanInfo {
  projections: string[];
  /** Every predicate that applies to the scan (file filters, pushed filters, the FILTER above). */
  predicates: string[];
  /** The filters DuckDB pushed into the scan: one column each, usable with row-group statistics. */
  tableFilters: string[];
}

export async function estimateScan(engine: LocalQueryEngine, sql: string): Promise<ScanEstimate> {
  const connection = engine.connection;
  const rewritten = await engine.toDuckDbSql(sql);
  // Bind the whole statement first: an unknown table or column fails here with the error `query`
  // gives, instead of being left out of the estimate (a typo must not price as "reads no table data").
  (await connection.prepare(rewritten)).destroySync();
  const referenced = (await referencedTables(connection, rewritten)).filter((name) =>
    engine.tables.has(name),
  );
  const withData = referenced.map((name) => engine.tables.get(name)!).filter((t) => t.files.length > 0);
  const notes: string[] = [];
  const scans: TableScan[] = [];
  for (const table of withData) {
    const others = withData.filter((t) => t !== table);
    const plan = await planWithOnly(connection, rewritten, others);
    const chunkBytes = await columnChunkBytes(connection, table);
    const columnTypes = await viewColumnTypes(connection, table.name);
    for (const scan of parquetScans(plan)) {
      const files = await filesRead(connection, table, columnTypes, scan.predicates, notes);
      const fileColumns = new Set([...chunkBytes.values()].flatMap((perColumn) => [...perColumn.keys()]));
      const filtered = scan.predicates
        .flatMap((p) => identifiersIn(p))
        .filter((name) => fileColumns.has(name));
      const columns = [...new Set([...scan.projections.filter((c) => fileColumns.has(c)), ...filtered])];
      const read = await rowGroupsRead(
        connection,
        files,
        columns,
        rowGroupSkips(scan.tableFilters, columnTypes),
        notes,
      );
      const bytes = read.bytes;
      let tableBytes = 0;
      for (const perColumn of chunkBytes.values()) for (const size of perColumn.values()) tableBytes += size;
      const partitions = new Set(table.files.map((f) => f.slice(0, f.lastIndexOf("/")))).size;
      if (
        files.length === table.files.length &&
        partitions > 1 &&
        table.partitionKeys.length > 0 &&
        bytes > 0
      ) {
        // A query that already filters on a partition key, but whose filter every partition passes,
        // needs no advice to add one: say that instead.
        // (DuckDB drops a partition filter every file passes from the plan, so look at the SQL itself,
        // string literals removed.)
        const sqlWithoutLiterals = rewritten.replace(/'(?:[^']|'')*'/g, "''");
        const keyFilter = table.partitionKeys.some((key) =>
          new RegExp(`\\b(where|on)\\b[\\s\\S]*\\b${key}\\b`, "i").test(sqlWithoutLiterals),
        );
        notes.push(
          keyFilter
            ? `${table.name}: every one of its ${partitions} partitions matches the filter on ${table.partitionKeys.join("/")}`
            : `${table.name}: reads all ${partitions} partitions; a filter on ${table.partitionKeys.join("/")} (e.g. ${table.partitionKeys[0]} = '...') would scan only the ones it needs`,
        );
      }
      scans.push({
        table: table.name,
        files: files.length,
        filesTotal: table.files.length,
        columns,
        rowGroups: read.rowGroups,
        rowGroupsInFiles: read.rowGroupsInFiles,
        bytes,
        tableBytes,
      });
    }
  }
  const bytesScanned = scans.reduce((sum, s) => sum + s.bytes, 0);
  return {
    scans,
    bytesScanned,
    billedBytes: athenaBilledBytes(bytesScanned),
    priceUsd: athenaPriceUsd(bytesScanned),
    notes,
  };
}

/** Table names the statement reads (FROM / JOIN), lowercased, in order of appearance. */
export async function referencedTables(connection: DuckDBConnection, sql: string): Promise<string[]> {
  const reader = await connection.runAndReadAll("SELECT json_serialize_sql($1::VARCHAR) AS tree", [sql]);
  const tree = JSON.parse(String(reader.getRowObjectsJS()[0]?.tree)) as {
    error?: boolean;
    error_message?: string;
  };
  if (tree.error) throw new Error(`cannot analyse this statement: ${tree.error_message ?? "not a SELECT"}`);
  const names: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) walk(child);
      return;
    }
    if (!node || typeof node !== "object") return;
    const obj = node as Record<string, unknown>;
    if (obj.type === "BASE_TABLE" && typeof obj.table_name === "string")
      names.push(obj.table_name.toLowerCase());
    for (const child of Object.values(obj)) walk(child);
  };
  walk(tree);
  return [...new Set(names)];
}

/** EXPLAIN with every other referenced table shadowed by an empty temp table of the same columns. */
async function planWithOnly(
  connection: DuckDBConnection,
  sql: string,
  others: LocalTable[],
): Promise<PlanNode[]> {
  // Temp objects come first on DuckDB's search path, so a temp table named `events` hides the view.
  for (const other of others)
    await connection.run(
      `CREATE OR REPLACE TEMP TABLE ${other.name} AS SELECT * FROM main.${other.name} LIMIT 0`,
    );
  try {
    const reader = await connection.runAndReadAll(`EXPLAIN (FORMAT JSON) ${sql}`);
    const row = reader.getRowsJS()[0];
    return JSON.parse(String(row?.[1])) as PlanNode[];
  } finally {
    for (const other of others) await connection.run(`DROP TABLE IF EXISTS temp.${other.name}`);
  }
}

function parquetScans(plan: PlanNode[]): ParquetScanInfo[] {
  const scans: ParquetScanInfo[] = [];
  const walk = (node: PlanNode, parent?: PlanNode) => {
    if (node.name === "READ_PARQUET" || node.name === "PARQUET_SCAN") {
      const info = node.extra_info ?? {};
      const predicates = [...list(info["File Filters"]).flatMap(splitParenthesized), ...list(info.Filters)];
      if (parent?.name === "FILTER") predicates.push(...list(parent.extra_info?.Expression));
      scans.push({ projections: list(info.Projections), predicates, tableFilters: list(info.Filters) });
    }
    for (const child of node.children ?? []) walk(child, node);
  };
  for (const root of plan) walk(root);
  return scans;
}

function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : value.split("\n")).map((v) => v.trim()).filter((v) => v.length > 0);
}

/**
 * DuckDB prints several file filters back to back, `(a OR b)(c OR d)`, each in parentheses: split
 * them at depth 0 (outside string literals). Text that is not such a sequence is returned whole.
 */
export function splitParenthesized(text: string): string[] {
  const { depth, quoted } = nesting(text);
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (!quoted[i] && ch === ")" && depth[i] === 1) {
      parts.push(text.slice(start, i + 1).trim());
      start = i + 1;
    } else if (depth[i] === 0 && ch !== " " && ch !== "(") return [text];
  }
  return parts.length > 0 && start === text.length ? parts : [text];
}

/**
 * For each character of SQL text: the parenthesis depth before it, and whether it belongs to a string
 * literal ('...' with '' escapes), whose parentheses do not count.
 */
function nesting(text: string): { depth: number[]; quoted: boolean[] } {
  const depth: number[] = [];
  const quoted: boolean[] = [];
  let level = 0;
  let inString = false;
  // By UTF-16 index, like the callers' loops (an emoji in a literal is two of them).
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    depth.push(level);
    if (inString || ch === "'") {
      quoted.push(true);
      inString = inString ? ch !== "'" : true;
      continue;
    }
    quoted.push(false);
    if (ch === "(") level++;
    else if (ch === ")") level--;
  }
  return { depth, quoted };
}

/** Identifiers in an expression as DuckDB prints it, string literals removed. */
function identifiersIn(expression: string): string[] {
  const withoutStrings = expression.replace(/'(?:[^']|'')*'/g, "''");
  return [...withoutStrings.matchAll(/"((?:[^"]|"")+)"|\b([A-Za-z_][A-Za-z0-9_]*)\b/g)].map(
    (m) => m[1] ?? m[2]!,
  );
}

async function viewColumnTypes(connection: DuckDBConnection, view: string): Promise<Map<string, string>> {
  const reader = await connection.runAndReadAll(`DESCRIBE ${view}`);
  return new Map(reader.getRowObjectsJS().map((r) => [String(r.column_name), String(r.column_type)]));
}

/** The files whose partition values satisfy every predicate that reads only partition keys. */
async function filesRead(
  connection: DuckDBConnection,
  table: LocalTable,
  columnTypes: Map<string, string>,
  predicates: string[],
  notes: string[],
): Promise<string[]> {
  const partitionKeys = new Set(table.partitionKeys);
  const otherColumns = new Set([...columnTypes.keys()].filter((name) => !partitionKeys.has(name)));
  const pruning = predicates.filter((p) => {
    const names = identifiersIn(p);
    return names.some((n) => partitionKeys.has(n)) && !names.some((n) => otherColumns.has(n));
  });
  if (pruning.length === 0) return table.files;
  const partitionColumns = table.partitionKeys.map(
    (key) => `regexp_extract(file, ${sqlString(`/${key}=([^/]*)/`)}, 1) AS ${key}`,
  );
  const fileList = `[${table.files.map(sqlString).join(", ")}]`;
  const sql = `SELECT file FROM (SELECT file, ${partitionColumns.join(", ")} FROM (SELECT unnest(${fileList}) AS file))
    WHERE ${pruning.map((p) => `(${p})`).join(" AND ")}`;
  try {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJS().map((r) => String(r.file));
  } catch (error) {
    notes.push(
      `${table.name}: could not evaluate the partition filter (${(error as Error).message.split("\n")[0]}); counted every file`,
    );
    return table.files;
  }
}

/**
 * SQL conditions over one row group's statistics of one column (`s.col`, `s.stats_min_value`...) that
 * are true when no row of it can satisfy a pushed filter. Filters of other shapes give none.
 */
export function rowGroupSkips(tableFilters: string[], columnTypes: Map<string, string>): string[] {
  const skips: string[] = [];
  for (const filter of tableFilters) {
    for (const conjunct of splitConjuncts(filter)) {
      const notNull = /^"?([A-Za-z_][A-Za-z0-9_]*)"? IS NOT NULL$/.exec(conjunct);
      if (notNull && columnTypes.has(notNull[1]!)) {
        skips.push(`(s.col = ${sqlString(notNull[1]!)} AND s.stats_null_count = s.num_values)`);
        continue;
      }
      const comparison = /^"?([A-Za-z_][A-Za-z0-9_]*)"?\s*(>=|<=|=|>|<)\s*(.+)$/s.exec(conjunct);
      if (!comparison) continue;
      const [, column, operator, constant] = comparison as unknown as [string, string, string, string];
      const type = columnTypes.get(column);
      if (!type) continue;
      const min = `TRY_CAST(s.stats_min_value AS ${type})`;
      const max = `TRY_CAST(s.stats_max_value AS ${type})`;
      const k = `(${constant})`;
      const impossible = {
        "=": `${min} > ${k} OR ${max} < ${k}`,
        ">": `${max} <= ${k}`,
        ">=": `${max} < ${k}`,
        "<": `${min} >= ${k}`,
        "<=": `${min} > ${k}`,
      }[operator];
      skips.push(`(s.col = ${sqlString(column)} AND (${impossible}))`);
    }
  }
  return skips;
}

/** `a AND (b) AND c` -> [a, b, c], at depth 0 and outside string literals; parentheses around a part removed. */
function splitConjuncts(filter: string): string[] {
  const { depth, quoted } = nesting(filter);
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < filter.length; i++) {
    if (!quoted[i] && depth[i] === 0 && filter.startsWith(" AND ", i)) {
      parts.push(filter.slice(start, i));
      start = i + " AND ".length;
    }
  }
  parts.push(filter.slice(start));
  return parts.map((part) => unwrap(part.trim()));
}

function unwrap(text: string): string {
  return text.startsWith("(") && splitParenthesized(text).length === 1 && text.endsWith(")")
    ? unwrap(text.slice(1, -1).trim())
    : text;
}

/**
 * Compressed bytes of the columns' chunks in the row groups of `files` that no skip condition rules
 * out. When a condition cannot be evaluated (an unusual constant), no row group is skipped.
 */
async function rowGroupsRead(
  connection: DuckDBConnection,
  files: string[],
  columns: string[],
  skips: string[],
  notes: string[],
): Promise<{ bytes: number; rowGroups: number; rowGroupsInFiles: number }> {
  if (files.length === 0) return { bytes: 0, rowGroups: 0, rowGroupsInFiles: 0 };
  const metadata = `SELECT file_name, row_group_id, split_part(path_in_schema, ', ', 1) AS col, total_compressed_size AS bytes,
      stats_min_value, stats_max_value, stats_null_count, num_values
    FROM parquet_metadata([${files.map(sqlString).join(", ")}])`;
  const columnList = columns.length > 0 ? columns.map(sqlString).join(", ") : "NULL";
  const run = async (conditions: string[]) => {
    const skipped =
      conditions.length > 0
        ? `SELECT DISTINCT s.file_name, s.row_group_id FROM md AS s WHERE ${conditions.join(" OR ")}`
        : "SELECT file_name, row_group_id FROM md WHERE false";
    const reader = await connection.runAndReadAll(
      `WITH md AS (${metadata}), skipped AS (${skipped}),
        kept AS (SELECT * FROM md ANTI JOIN skipped USING (file_name, row_group_id))
      SELECT (SELECT coalesce(sum(bytes), 0) FROM kept WHERE col IN (${columnList})) AS bytes,
        (SELECT count(DISTINCT (file_name, row_group_id)) FROM kept) AS row_groups,
        (SELECT count(DISTINCT (file_name, row_group_id)) FROM md) AS row_groups_in_files`,
    );
    const row = reader.getRowObjectsJS()[0]!;
    return {
      bytes: Number(row.bytes),
      rowGroups: Number(row.row_groups),
      rowGroupsInFiles: Number(row.row_groups_in_files),
    };
  };
  try {
    return await run(skips);
  } catch (error) {
    notes.push(
      `could not use row-group statistics (${(error as Error).message.split("\n")[0]}); counted every row group`,
    );
    return run([]);
  }
}

/** file -> column -> compressed bytes of that column's chunks, from the Parquet footers. */
async function columnChunkBytes(
  connection: DuckDBConnection,
  table: LocalTable,
): Promise<Map<string, Map<string, number>>> {
  const reader = await connection.runAndReadAll(
    `SELECT file_name, split_part(path_in_schema, ', ', 1) AS column_name, sum(total_compressed_size) AS bytes
     FROM parquet_metadata([${table.files.map(sqlString).join(", ")}]) GROUP BY ALL`,
  );
  const result = new Map<string, Map<string, number>>();
  for (const row of reader.getRowObjectsJS()) {
    const file = String(row.file_name);
    const perColumn = result.get(file) ?? new Map<string, number>();
    perColumn.set(String(row.column_name), Number(row.bytes));
    result.set(file, perColumn);
  }
  return result;
}
