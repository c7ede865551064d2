/**
 * `observatory cost "<SQL>"`: what a query would scan on Athena and what it would cost, estimated on
 * the local engine from the query plan and the Parquet footers (query/scan-estimate.ts), without
 * running it. `--all-named` prices every named query.
 */
import type { Command } from "commander";
import { openLocalQuerySession } from "../../local/query-connection.js";
import type { LocalQueryEngine } from "../../local/query-engine.js";
import { dataDirOption, s3EndpointOption } from "../../local/stack-connection.js";
import { formatBytes, formatUsd } from "../../query/athena-pricing.js";
import { NAMED_QUERIES } from "../../query/named-queries.js";
import { estimateScan } from "../../query/scan-estimate.js";
import { formatOption, formatRows, type OutputFormat } from "../format.js";
import { type CommandIo, configuredDatabases, portNumber, resolveSql } from "./query.js";

/** What `cost` prints when no SQL is given: its own options, not query's. */
export const COST_SQL_USAGE =
  'observatory cost "SELECT ..." (or - to read stdin, --named <name>, --all-named)';

export interface CostCommandOptions {
  named?: string;
  allNamed?: boolean;
  dataDir?: string;
  s3Port?: number;
  s3Endpoint?: string;
  format: OutputFormat;
}

export function registerCostCommand(program: Command): void {
  program
    .command("cost")
    .description(
      "the bytes a query would scan on Athena (partition pruning, only the columns it reads) and its price ($5/TB, 10 MB minimum)",
    )
    .argument("[sql]", "the SQL to estimate, or - to read it from stdin")
    .option("--named <name>", `estimate a named query (${NAMED_QUERIES.map((q) => q.name).join(", ")})`)
    .option("--all-named", "estimate every named query")
    .addOption(dataDirOption())
    .addOption(s3EndpointOption())
    .option("--s3-port <port>", "port of the running local stack's S3", portNumber)
    .addOption(formatOption())
    .action(async (sql: string | undefined, options: CostCommandOptions) => {
      process.exitCode = await runCostCommand(sql, options);
    });
}

export async function runCostCommand(
  sql: string | undefined,
  options: CostCommandOptions,
  io: CommandIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const queries = options.allNamed
    ? NAMED_QUERIES.map((q) => ({ name: q.name, sql: q.sql }))
    : [
        {
          name: options.named ?? "query",
          sql: await resolveSql(sql, options.named, io.stdin, COST_SQL_USAGE),
        },
      ];
  const session = await openLocalQuerySession({
    dataDir: options.dataDir,
    s3Port: options.s3Port,
    s3Endpoint: options.s3Endpoint,
    databases: configuredDatabases(undefined, io.env),
  });
  try {
    for (const note of session.notes) io.stderr.write(`${note}\n`);
    if (options.allNamed)
      io.stdout.write(`${await namedQueryCosts(session.engine, queries, options.format)}\n`);
    else io.stdout.write(`${await singleQueryCost(session.engine, queries[0]!.sql, options.format)}\n`);
    return 0;
  } finally {
    await session.close();
  }
}

async function singleQueryCost(engine: LocalQueryEngine, sql: string, format: OutputFormat): Promise<string> {
  const estimate = await estimateScan(engine, sql);
  if (format === "json") return JSON.stringify(estimate, null, 2);
  const rows = estimate.scans.map((s) => ({
    table: s.table,
    files: `${s.files}/${s.filesTotal}`,
    row_groups: `${s.rowGroups}/${s.rowGroupsInFiles}`,
    columns: s.columns.join(" ") || "(none: metadata only)",
    bytes_scanned: format === "csv" ? s.bytes : formatBytes(s.bytes),
    table_bytes: format === "csv" ? s.tableBytes : formatBytes(s.tableBytes),
  }));
  if (format === "csv") return formatRows(rows, "csv");
  const lines = [
    rows.length > 0 ? formatRows(rows, "table") : "(reads no table data)",
    "",
    `scanned   ${formatBytes(estimate.bytesScanned)} (${estimate.bytesScanned} bytes)`,
    `billed    ${formatBytes(estimate.billedBytes)} (rounded up to whole MB, 10 MB minimum)`,
    `price     ${formatUsd(estimate.priceUsd)} at $5 per TB`,
    ...estimate.notes.map((n) => `note      ${n}`),
  ];
  return lines.join("\n");
}

async function namedQueryCosts(
  engine: LocalQueryEngine,
  queries: { name: string; sql: string }[],
  format: OutputFormat,
): Promise<string> {
  const rows: Record<string, unknown>[] = [];
  for (const query of queries) {
    const estimate = await estimateScan(engine, query.sql);
    const tableBytes = estimate.scans.reduce((sum, s) => sum + s.tableBytes, 0);
    rows.push({
      name: query.name,
      tables: [...new Set(estimate.scans.map((s) => s.table))].join(" "),
      bytes_scanned: format === "table" ? formatBytes(estimate.bytesScanned) : estimate.bytesScanned,
      table_bytes: format === "table" ? formatBytes(tableBytes) : tableBytes,
      price_usd: format === "table" ? formatUsd(estimate.priceUsd) : estimate.priceUsd,
    });
  }
  return formatRows(rows, format);
}
