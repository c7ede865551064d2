/**
 * `observatory query "<SQL>"`: Athena SQL on the local engine (DuckDB over the local stack's Parquet,
 * Trino functions bridged) or on Athena in the stack's workgroup.
 *
 * Where it runs: `--local` or `--athena` when given; otherwise Athena when a workgroup is configured
 * (`--workgroup` or OBSERVATORY_ATHENA_WORKGROUP), else local.
 */
import { AthenaClient } from "@aws-sdk/client-athena";
import cliProgress from "cli-progress";
import { type Command, InvalidArgumentError } from "commander";
import { openLocalQuerySession } from "../../local/query-connection.js";
import { dataDirOption, s3EndpointOption } from "../../local/stack-connection.js";
import { formatBytes, formatUsd } from "../../query/athena-pricing.js";
import { type AthenaProgress, runAthenaQuery } from "../../query/athena-runner.js";
import { NAMED_QUERIES, namedQuery } from "../../query/named-queries.js";
import type { QueryResult } from "../../query/query-result.js";
import { estimateScan } from "../../query/scan-estimate.js";
import { awsClientConfig, explainAwsConfigError } from "../aws-config.js";
import { formatOption, formatRows, type OutputFormat } from "../format.js";

/** Environment variables naming the deployed stack's Athena setup (MetricPipeline's outputs). */
export const WORKGROUP_ENV = "OBSERVATORY_ATHENA_WORKGROUP";
export const DATABASE_ENV = "OBSERVATORY_ATHENA_DATABASE";

export interface QueryCommandOptions {
  local?: boolean;
  athena?: boolean;
  named?: string;
  list?: boolean;
  workgroup?: string;
  database?: string;
  region?: string;
  dataDir?: string;
  s3Port?: number;
  s3Endpoint?: string;
  format: OutputFormat;
}

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Where `-` reads the SQL from (default: process.stdin). */
  stdin?: NodeJS.ReadableStream;
  athena?: AthenaClient;
}

const defaultIo = (): CommandIo => ({ stdout: process.stdout, stderr: process.stderr, env: process.env });

export function registerQueryCommand(program: Command): void {
  program
    .command("query")
    .description("run Athena (Trino) SQL: locally on DuckDB over the local stack's Parquet, or on Athena")
    .argument(
      "[sql]",
      "the SQL, or - to read it from stdin (tables: events, quarantine, logs, one per declared event)",
    )
    .option("--local", "run on this machine (default when no workgroup is configured)")
    .option("--athena", "run on Athena in the stack's workgroup")
    .option("--named <name>", `run a named query (${NAMED_QUERIES.map((q) => q.name).join(", ")})`)
    .option("--list", "list the named queries")
    .option("--workgroup <name>", `Athena workgroup (default: $${WORKGROUP_ENV})`)
    .option("--database <name>", `Glue database of the tables (default: $${DATABASE_ENV})`)
    .option("--region <region>", "Athena's region (default: AWS_REGION or the profile's)")
    .addOption(dataDirOption())
    .addOption(s3EndpointOption())
    .option("--s3-port <port>", "local: port of the running local stack's S3", portNumber)
    .addOption(formatOption())
    .action(async (sql: string | undefined, options: QueryCommandOptions) => {
      process.exitCode = await runQueryCommand(sql, options);
    });
}

/** `--s3-port`: a TCP port number, refused with a usage error otherwise (not passed on as NaN). */
export function portNumber(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65_535)
    throw new InvalidArgumentError("expected a port number (1-65535)");
  return port;
}

export async function runQueryCommand(
  sql: string | undefined,
  options: QueryCommandOptions,
  io: CommandIo = defaultIo(),
): Promise<number> {
  if (options.list) {
    io.stdout.write(
      `${formatRows(
        NAMED_QUERIES.map((q) => ({ name: q.name, description: q.description })),
        options.format,
      )}\n`,
    );
    return 0;
  }
  const text = await resolveSql(sql, options.named, io.stdin);
  const result = useAthena(options, io.env)
    ? await onAthena(text, options, io)
    : await onLocal(text, options, io);
  io.stdout.write(
    `${formatRows(
      result.rows,
      options.format,
      result.columns.map((c) => c.name),
    )}\n`,
  );
  return 0;
}

/** What `query` prints when no SQL is given: its ways of being given SQL. */
export const QUERY_SQL_USAGE = 'observatory query "SELECT ..." (or - to read stdin, --named <name>, --list)';

/**
 * The SQL to run: the argument (`-`: read from stdin, e.g. a .sql file), or a named query's (not both).
 * `usage` is the calling command's own hint, shown when no SQL is given.
 */
export async function resolveSql(
  sql: string | undefined,
  named: string | undefined,
  stdin?: NodeJS.ReadableStream,
  usage: string = QUERY_SQL_USAGE,
): Promise<string> {
  if (sql && named) throw new Error("give either SQL or --named, not both");
  if (named) return namedQuery(named).sql;
  const text = sql === "-" ? await readAll(stdin ?? process.stdin) : sql;
  if (!text?.trim()) throw new Error(`no SQL given: ${usage}`);
  return text;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

export function useAthena(
  options: { local?: boolean; athena?: boolean; workgroup?: string },
  env: NodeJS.ProcessEnv,
): boolean {
  if (options.local && options.athena) throw new Error("choose one of --local and --athena");
  if (options.local) return false;
  return Boolean(options.athena || options.workgroup || env[WORKGROUP_ENV]);
}

/** The Athena database a query may name locally (`<db>.events`): --database or the environment's. */
export function configuredDatabases(database: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const name = database ?? env[DATABASE_ENV];
  return name ? [name] : [];
}

async function onLocal(sql: string, options: QueryCommandOptions, io: CommandIo): Promise<QueryResult> {
  const progress = syncProgress(io.stderr);
  const session = await openLocalQuerySession({
    dataDir: options.dataDir,
    s3Port: options.s3Port,
    s3Endpoint: options.s3Endpoint,
    databases: configuredDatabases(options.database, io.env),
    onSyncProgress: progress.update,
  }).finally(progress.stop);
  try {
    for (const note of session.notes) io.stderr.write(`${note}\n`);
    const result = await session.engine.query(sql);
    // What the same query would cost on Athena; only for statements the estimator can plan.
    const estimate = await estimateScan(session.engine, sql).catch(() => undefined);
    const cost = estimate
      ? `, would scan ${formatBytes(estimate.bytesScanned)} on Athena (${formatUsd(estimate.priceUsd)})`
      : "";
    io.stderr.write(`${result.rows.length} row${result.rows.length === 1 ? "" : "s"} (local${cost})\n`);
    return result;
  } finally {
    await session.close();
  }
}

async function onAthena(sql: string, options: QueryCommandOptions, io: CommandIo): Promise<QueryResult> {
  const workGroup = options.workgroup ?? io.env[WORKGROUP_ENV];
  if (!workGroup)
    throw new Error(
      `--athena needs a workgroup: --workgroup <name> or $${WORKGROUP_ENV} (MetricPipeline's workgroup output)`,
    );
  const client = io.athena ?? new AthenaClient(awsClientConfig({ region: options.region }));
  const status = pollStatus(io.stderr);
  // Ctrl-C stops the query on Athena rather than leaving it running (and billing) after we exit.
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once("SIGINT", onSigint);
  try {
    const result = await runAthenaQuery({
      client,
      sql,
      workGroup,
      database: options.database ?? io.env[DATABASE_ENV],
      onProgress: status.update,
      signal: interrupt.signal,
    });
    status.stop();
    io.stderr.write(
      `${result.rows.length} row${result.rows.length === 1 ? "" : "s"} (Athena ${result.queryExecutionId}, scanned ${formatBytes(result.bytesScanned ?? 0)}, ${formatUsd(result.priceUsd ?? 0)})\n`,
    );
    return result;
  } catch (error) {
    throw explainAwsConfigError(error);
  } finally {
    process.removeListener("SIGINT", onSigint);
    status.stop();
    if (!io.athena) client.destroy();
  }
}

/** A bar while the mirror downloads (terminal only; nothing when nothing changed). */
function syncProgress(stream: NodeJS.WritableStream) {
  const tty = (stream as NodeJS.WriteStream).isTTY === true;
  let bar: cliProgress.SingleBar | undefined;
  return {
    update: (done: number, total: number) => {
      if (!tty || total === 0) return;
      bar ??= new cliProgress.SingleBar(
        { stream, format: "syncing tables [{bar}] {value}/{total} files" },
        cliProgress.Presets.shades_classic,
      );
      if (!bar.isActive) bar.start(total, done);
      bar.update(done);
    },
    stop: () => bar?.stop(),
  };
}

/** Athena's state while polling: rewritten in place on a terminal, one line per change otherwise. */
function pollStatus(stream: NodeJS.WritableStream) {
  const tty = (stream as NodeJS.WriteStream).isTTY === true;
  let last = "";
  let active = false;
  return {
    update: (p: AthenaProgress) => {
      const line = `Athena: ${p.state} ${(p.elapsedMs / 1000).toFixed(1)}s${p.bytesScanned ? `, scanned ${formatBytes(p.bytesScanned)}` : ""}`;
      if (tty) {
        stream.write(`\r${line}\u001b[K`);
        active = true;
      } else if (p.state !== last) {
        stream.write(`${line}\n`);
      }
      last = p.state;
    },
    stop: () => {
      if (active) stream.write("\n");
      active = false;
    },
  };
}
