/**
 * `observatory trace <correlation-id>`: every log line and tracked event of one request, across
 * services, as a timeline. Locally from the local stack's bucket (logs archive + events, raw zone
 * included); on AWS through Athena over the `logs` and `events` tables.
 */
import { join } from "node:path";
import { AthenaClient } from "@aws-sdk/client-athena";
import { type Command, Option } from "commander";
import { LOCAL_BUCKET } from "../../contracts/local-stack.js";
import { openSearchClient } from "../../functions/log-consumer/opensearch-indexer.js";
import { addLocalStackOptions, dataDirOf, openLocalS3 } from "../../local/stack-connection.js";
import { validCorrelationId } from "../../runtime/correlation-extract.js";
import { traceAthena } from "../../trace/athena-trace.js";
import { traceLocal } from "../../trace/local-trace.js";
import { traceOpenSearch } from "../../trace/opensearch-trace.js";
import { skippedRawNote } from "../../trace/raw-events.js";
import {
  buildTimeline,
  DEFAULT_TRACE_DAYS,
  TIMELINE_COLUMNS,
  type TimelineRow,
} from "../../trace/timeline.js";
import { explainAwsConfigError } from "../aws-config.js";
import { formatOption, formatRows, type OutputFormat } from "../format.js";

/** The table view cuts long messages (json and csv keep them whole). */
export const TABLE_MESSAGE_CHARS = 120;

export interface TraceCommandOptions {
  local?: boolean;
  athena?: boolean;
  format: OutputFormat;
  days: number;
  dataDir?: string;
  s3Endpoint?: string;
  bucket: string;
  workgroup?: string;
  logsDatabase?: string;
  eventsDatabase?: string;
  region?: string;
  opensearch?: string;
  opensearchSigv4?: string;
}

/** Parses --days (commander calls it with the flag's text). */
function days(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--days must be a whole number of at least 1, got ${JSON.stringify(value)}`);
  return n;
}

/** Renders the timeline; an empty one says so and what to check. */
export function renderTimeline(rows: TimelineRow[], format: OutputFormat, correlationId: string): string {
  if (rows.length === 0 && format === "table") {
    return `No log line or event carries correlation ID ${correlationId} in the searched days (--days widens the range; lines reach the archive a few seconds after they are written).`;
  }
  const shown =
    format === "table"
      ? rows.map((r) => ({
          ...r,
          message:
            r.message.length > TABLE_MESSAGE_CHARS
              ? `${r.message.slice(0, TABLE_MESSAGE_CHARS - 1)}…`
              : r.message,
        }))
      : rows;
  return formatRows(shown as unknown as Record<string, unknown>[], format, [...TIMELINE_COLUMNS]);
}

export async function runTrace(
  correlationIdArg: string,
  options: TraceCommandOptions,
  /** Where notes go (which S3 was read): stderr, so --format json on stdout stays clean. */
  notes: NodeJS.WritableStream = process.stderr,
): Promise<TimelineRow[]> {
  const correlationId = validCorrelationId(correlationIdArg);
  if (!correlationId)
    throw new Error(
      `not a correlation ID: ${JSON.stringify(correlationIdArg)} (1-128 printable characters, no spaces)`,
    );
  if ([options.local, options.athena, options.opensearch].filter(Boolean).length > 1) {
    throw new Error("choose one of --local, --athena and --opensearch");
  }
  const n = options.days;
  if (options.opensearch) {
    const client = await openSearchClient(
      options.opensearch,
      options.opensearchSigv4,
      options.region ?? process.env.AWS_REGION,
    );
    try {
      return buildTimeline(await traceOpenSearch({ client, correlationId, days: n }));
    } finally {
      await client.close();
    }
  }
  if (options.athena) {
    const workGroup = options.workgroup ?? process.env.OBSERVATORY_ATHENA_WORKGROUP;
    const logsDatabase = options.logsDatabase ?? process.env.OBSERVATORY_LOGS_DATABASE;
    if (!workGroup || !logsDatabase) {
      throw new Error(
        "--athena needs --workgroup and --logs-database (or OBSERVATORY_ATHENA_WORKGROUP / OBSERVATORY_LOGS_DATABASE): see the stack outputs",
      );
    }
    const client = new AthenaClient(options.region ? { region: options.region } : {});
    try {
      const entries = await traceAthena({
        client,
        correlationId,
        workGroup,
        logsDatabase,
        eventsDatabase: options.eventsDatabase ?? process.env.OBSERVATORY_EVENTS_DATABASE,
        days: n,
        onProgress: (state) => process.stderr.write(`\rAthena: ${state}   `),
      });
      process.stderr.write("\n");
      return buildTimeline(entries);
    } catch (error) {
      // The same words as query --athena and etl for a missing region or credentials.
      throw explainAwsConfigError(error);
    } finally {
      client.destroy();
    }
  }
  // The running stack's S3 (--s3-endpoint, the data directory's stack.json, the default port), or the
  // data directory read directly when no stack runs - as query, cost and etl --local do.
  const s3 = await openLocalS3(options, { readOnly: true });
  try {
    notes.write(`${s3.note}\n`);
    const entries = await traceLocal({
      s3: s3.client,
      bucket: options.bucket,
      correlationId,
      cacheDir: join(dataDirOf(options), "cache", "trace"),
      days: n,
      onProgress: (done, total) => {
        if (total > 20 && process.stderr.isTTY) process.stderr.write(`\rfetching ${done}/${total} objects`);
      },
      onSkipped: (skipped) => notes.write(`${skippedRawNote(skipped)}\n`),
    });
    return buildTimeline(entries);
  } finally {
    await s3.close();
  }
}

export function registerTraceCommand(program: Command): void {
  const command = program
    .command("trace")
    .description("every log line and tracked event of one request, across services, as a timeline")
    .argument("<correlation-id>", "the x-correlation-id of the request")
    .option("--local", "read the local stack's archive (default)")
    .option("--athena", "query the logs and events tables through Athena")
    .addOption(formatOption())
    .addOption(
      new Option("--days <n>", "how many days back to search (UTC dates)")
        .argParser(days)
        .default(DEFAULT_TRACE_DAYS),
    );
  addLocalStackOptions(command)
    .addOption(new Option("--bucket <name>", "local bucket").default(LOCAL_BUCKET))
    .option("--workgroup <name>", "Athena workgroup (with --athena)")
    .option("--logs-database <name>", "Glue database of the logs table (with --athena)")
    .option("--events-database <name>", "Glue database of the events table (with --athena)")
    .option("--region <region>", "AWS region (with --athena or a signed --opensearch)")
    .option("--opensearch <endpoint>", "search the OpenSearch index the log consumer fills (log lines only)")
    .addOption(
      new Option(
        "--opensearch-sigv4 <service>",
        "sign requests for a domain (es) or a serverless collection (aoss)",
      ).choices(["es", "aoss"]),
    )
    .action(async (correlationId: string, options: TraceCommandOptions) => {
      const rows = await runTrace(correlationId, options);
      console.log(renderTimeline(rows, options.format, correlationId));
    });
}
