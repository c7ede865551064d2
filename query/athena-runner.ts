import {
  type AthenaClient,
  type ColumnInfo,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecution,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import { athenaPriceUsd } from "./athena-pricing.js";
import { plainInteger, type QueryResult } from "./query-result.js";

/**
 * Runs one query on Athena: start it in a workgroup, poll its state with exponential backoff, read
 * every page of results and convert each column from Athena's strings to JS values by its declared type.
 */

/** First poll soon: small queries finish in about a second. */
export const FIRST_POLL_DELAY_MS = 250;
/** Poll at least this often on long queries (GetQueryExecution is throttled per account). */
export const MAX_POLL_DELAY_MS = 5_000;
/** Athena's own default DML timeout is 30 minutes; waiting longer only waits for a failure. */
export const DEFAULT_QUERY_TIMEOUT_MS = 30 * 60 * 1000;
/** GetQueryResults' largest page. */
export const RESULTS_PAGE_SIZE = 1000;

export interface AthenaProgress {
  state: string;
  elapsedMs: number;
  bytesScanned?: number;
}

export interface AthenaQueryOptions {
  client: AthenaClient;
  sql: string;
  workGroup: string;
  /** Glue database the SQL's unqualified tables live in. */
  database?: string;
  catalog?: string;
  timeoutMs?: number;
  onProgress?: (progress: AthenaProgress) => void;
  /** Aborting (Ctrl-C) stops the query on Athena instead of leaving it running and billing. */
  signal?: AbortSignal;
  /** Injected by tests so the backoff sequence is observable without waiting. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export class AthenaQueryError extends Error {
  constructor(
    message: string,
    readonly queryExecutionId: string,
    readonly state: string,
    /** Failed and cancelled queries are billed for what they scanned too. */
    readonly bytesScanned?: number,
  ) {
    super(message);
    this.name = "AthenaQueryError";
  }
}

export async function runAthenaQuery(
  options: AthenaQueryOptions,
): Promise<QueryResult & { queryExecutionId: string }> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const started = await options.client.send(
    new StartQueryExecutionCommand({
      QueryString: options.sql,
      WorkGroup: options.workGroup,
      QueryExecutionContext: options.database
        ? { Database: options.database, Catalog: options.catalog }
        : undefined,
    }),
  );
  const id = started.QueryExecutionId;
  if (!id) throw new Error("Athena accepted the query but returned no QueryExecutionId");

  const execution = await waitForCompletion(options, id, sleep, now);
  const bytesScanned = execution.Statistics?.DataScannedInBytes;
  const { columns, rows } = await readResults(options.client, id, execution.StatementType);
  return {
    engine: "athena",
    queryExecutionId: id,
    columns: columns.map((c) => ({ name: c.Label ?? c.Name ?? "", type: c.Type ?? "varchar" })),
    rows,
    bytesScanned,
    priceUsd: bytesScanned === undefined ? undefined : athenaPriceUsd(bytesScanned),
  };
}

async function waitForCompletion(
  options: AthenaQueryOptions,
  id: string,
  sleep: (ms: number) => Promise<void>,
  now: () => number,
): Promise<QueryExecution> {
  const start = now();
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  let delay = FIRST_POLL_DELAY_MS;
  for (;;) {
    const { QueryExecution: execution } = await options.client.send(
      new GetQueryExecutionCommand({ QueryExecutionId: id }),
    );
    const state = execution?.Status?.State ?? "UNKNOWN";
    const bytesScanned = execution?.Statistics?.DataScannedInBytes;
    options.onProgress?.({ state, elapsedMs: now() - start, bytesScanned });
    if (state === "SUCCEEDED") return execution!;
    if (state === "FAILED" || state === "CANCELLED") {
      const reason =
        execution?.Status?.StateChangeReason ??
        execution?.Status?.AthenaError?.ErrorMessage ??
        "no reason given";
      throw new AthenaQueryError(
        `Athena query ${id} ${state.toLowerCase()}: ${reason}`,
        id,
        state,
        bytesScanned,
      );
    }
    if (options.signal?.aborted) {
      await options.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
      throw new AthenaQueryError(`Athena query ${id} interrupted; stopped it`, id, "CANCELLED", bytesScanned);
    }
    if (now() - start >= timeoutMs) {
      await options.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
      throw new AthenaQueryError(
        `Athena query ${id} still ${state} after ${Math.round(timeoutMs / 1000)} s; stopped it`,
        id,
        state,
        bytesScanned,
      );
    }
    await abortableSleep(sleep, delay, options.signal);
    delay = Math.min(delay * 2, MAX_POLL_DELAY_MS);
  }
}

/** Sleeps, but wakes early when the signal aborts (the next poll then stops the query). */
function abortableSleep(
  sleep: (ms: number) => Promise<void>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  if (!signal) return sleep(ms);
  return new Promise<void>((resolve) => {
    const wake = () => resolve();
    signal.addEventListener("abort", wake, { once: true });
    sleep(ms).then(() => {
      signal.removeEventListener("abort", wake);
      resolve();
    });
  });
}

async function readResults(client: AthenaClient, id: string, statementType: string | undefined) {
  let columns: ColumnInfo[] = [];
  const rows: Record<string, unknown>[] = [];
  let token: string | undefined;
  let firstPage = true;
  do {
    const page = await client.send(
      new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: RESULTS_PAGE_SIZE }),
    );
    if (firstPage) columns = page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
    const names = columns.map((c) => c.Label ?? c.Name ?? "");
    let pageRows = page.ResultSet?.Rows ?? [];
    // A SELECT's first page starts with a row holding the column labels, not data.
    if (
      firstPage &&
      statementType === "DML" &&
      pageRows[0]?.Data?.every((d, i) => d.VarCharValue === names[i])
    ) {
      pageRows = pageRows.slice(1);
    }
    for (const row of pageRows) {
      const record: Record<string, unknown> = {};
      columns.forEach((column, i) => {
        record[names[i]!] = athenaValue(row.Data?.[i]?.VarCharValue, column.Type ?? "varchar");
      });
      rows.push(record);
    }
    token = page.NextToken;
    firstPage = false;
  } while (token);
  return { columns, rows };
}

/**
 * One cell from Athena's text form to a JS value. A missing VarCharValue is SQL NULL (an empty
 * string arrives as ""). Types Athena prints in its own syntax (array, map, row) stay text.
 */
export function athenaValue(text: string | undefined, type: string): unknown {
  if (text === undefined) return null;
  const base = type.toLowerCase().replace(/\(.*$/, "").trim();
  switch (base) {
    case "boolean":
      return text === "true";
    case "tinyint":
    case "smallint":
    case "integer":
    case "int":
      return Number(text);
    case "bigint":
      return plainInteger(BigInt(text));
    case "double":
    case "float":
    case "real":
      return Number(text); // Number() reads NaN, Infinity and -Infinity as Athena prints them
    case "decimal":
      // Exact when a double can hold it; otherwise the digits as text.
      return text.replace(/[-.]/g, "").replace(/^0+/, "").length <= 15 ? Number(text) : text;
    case "timestamp":
    case "timestamp with time zone":
      return timestampValue(text);
    case "json":
      return JSON.parse(text);
    default:
      return text;
  }
}

/** `2026-01-15 10:00:00.123` (UTC) or `... UTC` / `... +01:00` -> Date; other zone names stay text. */
function timestampValue(text: string): Date | string {
  const match = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?: (UTC|Z|[+-]\d{2}:\d{2}))?$/.exec(text);
  if (!match) return text;
  const zone = !match[3] || match[3] === "UTC" ? "Z" : match[3];
  const date = new Date(`${match[1]}T${match[2]}${zone}`);
  return Number.isNaN(date.getTime()) ? text : date;
}
