// Response shapes follow the Athena API reference (GetQueryExecution, GetQueryResults): a SELECT's
// first results page starts with a header row, NULL cells have no VarCharValue, ColumnInfo carries
// the types, Statistics.DataScannedInBytes the bytes billed.
import {
  AthenaClient,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import {
  ATHENA_MINIMUM_BILLED_BYTES,
  athenaBilledBytes,
  athenaPriceUsd,
  BYTES_PER_TB,
} from "../query/athena-pricing.js";
import { AthenaQueryError, athenaValue, runAthenaQuery } from "../query/athena-runner.js";

const athena = mockClient(AthenaClient);
const ID = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111";

function execution(
  state: string,
  extra: Record<string, unknown> = {},
): Partial<GetQueryExecutionCommandOutput> {
  return {
    QueryExecution: {
      QueryExecutionId: ID,
      Query: "SELECT ...",
      StatementType: "DML",
      ResultConfiguration: { OutputLocation: `s3://observatory-athena-results/${ID}.csv` },
      QueryExecutionContext: { Database: "observatory", Catalog: "AwsDataCatalog" },
      Status: { State: state as "RUNNING", SubmissionDateTime: new Date("2026-01-15T10:00:00Z") },
      Statistics: {
        EngineExecutionTimeInMillis: 812,
        DataScannedInBytes: state === "QUEUED" ? 0 : 2_345_678,
        TotalExecutionTimeInMillis: 1034,
        QueryQueueTimeInMillis: 95,
        ServicePreProcessingTimeInMillis: 40,
        QueryPlanningTimeInMillis: 210,
        ServiceProcessingTimeInMillis: 22,
        ResultReuseInformation: { ReusedPreviousResult: false },
      },
      WorkGroup: "observatory",
      EngineVersion: { SelectedEngineVersion: "AUTO", EffectiveEngineVersion: "Athena engine version 3" },
      ...extra,
    },
  };
}

const column = (Name: string, Type: string, Precision = 0) => ({
  CatalogName: "hive",
  SchemaName: "",
  TableName: "",
  Name,
  Label: Name,
  Type,
  Precision,
  Scale: 0,
  Nullable: "UNKNOWN" as const,
  CaseSensitive: Type === "varchar",
});
const COLUMNS = [
  column("user_id", "varchar", 2147483647),
  column("num_downloads", "bigint", 19),
  column("avg_n_results", "double", 17),
  column("first_seen", "timestamp", 3),
  column("active", "boolean"),
];
const cells = (...values: (string | undefined)[]) => ({
  Data: values.map((v) => (v === undefined ? {} : { VarCharValue: v })),
});

beforeEach(() => athena.reset());

describe("runAthenaQuery", () => {
  it("starts in the workgroup, backs off while polling, pages through typed results and prices the scan", async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce(execution("QUEUED"))
      .resolvesOnce(execution("RUNNING"))
      .resolvesOnce(execution("RUNNING"))
      .resolves(execution("SUCCEEDED"));
    athena
      .on(GetQueryResultsCommand, { QueryExecutionId: ID, NextToken: undefined })
      .resolves({
        UpdateCount: 0,
        ResultSet: {
          Rows: [
            cells("user_id", "num_downloads", "avg_n_results", "first_seen", "active"),
            cells("user_0001", "12", "41.5", "2026-01-15 10:00:00.123", "true"),
            cells("", "9007199254740993", "NaN", undefined, "false"),
          ],
          ResultSetMetadata: { ColumnInfo: COLUMNS },
        },
        NextToken: "page-2",
      })
      .on(GetQueryResultsCommand, { QueryExecutionId: ID, NextToken: "page-2" })
      .resolves({
        UpdateCount: 0,
        // Later pages carry no header row; a data row equal to the labels would still be data.
        ResultSet: {
          Rows: [cells("user_0003", undefined, "0", "2026-01-16 00:00:00.000", undefined)],
          ResultSetMetadata: { ColumnInfo: COLUMNS },
        },
      });

    const sleeps: number[] = [];
    const states: string[] = [];
    const result = await runAthenaQuery({
      client: new AthenaClient({ region: "us-east-1" }),
      sql: "SELECT 1",
      workGroup: "observatory",
      database: "observatory",
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      onProgress: (p) => states.push(p.state),
    });

    const start = athena.commandCalls(StartQueryExecutionCommand)[0]!.args[0].input;
    expect(start).toEqual({
      QueryString: "SELECT 1",
      WorkGroup: "observatory",
      QueryExecutionContext: { Database: "observatory", Catalog: undefined },
    });
    expect(sleeps).toEqual([250, 500, 1000]);
    expect(states).toEqual(["QUEUED", "RUNNING", "RUNNING", "SUCCEEDED"]);
    expect(result.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      "user_id:varchar",
      "num_downloads:bigint",
      "avg_n_results:double",
      "first_seen:timestamp",
      "active:boolean",
    ]);
    expect(result.rows).toEqual([
      {
        user_id: "user_0001",
        num_downloads: 12,
        avg_n_results: 41.5,
        first_seen: new Date("2026-01-15T10:00:00.123Z"),
        active: true,
      },
      {
        user_id: "",
        num_downloads: "9007199254740993",
        avg_n_results: Number.NaN,
        first_seen: null,
        active: false,
      },
      {
        user_id: "user_0003",
        num_downloads: null,
        avg_n_results: 0,
        first_seen: new Date("2026-01-16T00:00:00.000Z"),
        active: null,
      },
    ]);
    expect(athena.commandCalls(GetQueryResultsCommand).map((c) => c.args[0].input.MaxResults)).toEqual([
      1000, 1000,
    ]);
    expect(result.bytesScanned).toBe(2_345_678);
    expect(result.priceUsd).toBeCloseTo(((10 * 1024 ** 2) / BYTES_PER_TB) * 5, 12);
    expect(result.queryExecutionId).toBe(ID);
  });

  it("caps the poll interval", async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    const poll = athena.on(GetQueryExecutionCommand);
    for (let i = 0; i < 8; i++) poll.resolvesOnce(execution("RUNNING"));
    poll.resolves(execution("SUCCEEDED"));
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: { Rows: [cells("user_id")], ResultSetMetadata: { ColumnInfo: [COLUMNS[0]!] } },
    });
    const sleeps: number[] = [];
    const result = await runAthenaQuery({
      client: new AthenaClient({ region: "us-east-1" }),
      sql: "SELECT user_id FROM events WHERE false",
      workGroup: "observatory",
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    expect(sleeps).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    expect(result.rows).toEqual([]);
  });

  it("reports a FAILED query with Athena's reason and the bytes it was billed for", async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolves(
      execution("FAILED", {
        Status: {
          State: "FAILED",
          StateChangeReason:
            "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved or requester is not authorized to access requested resources",
          SubmissionDateTime: new Date("2026-01-15T10:00:00Z"),
          CompletionDateTime: new Date("2026-01-15T10:00:01Z"),
          AthenaError: {
            ErrorCategory: 2,
            ErrorType: 1006,
            Retryable: false,
            ErrorMessage: "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved",
          },
        },
      }),
    );
    const error = await runAthenaQuery({
      client: new AthenaClient({ region: "us-east-1" }),
      sql: "SELECT nope FROM events",
      workGroup: "observatory",
      sleep: async () => {},
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AthenaQueryError);
    expect((error as AthenaQueryError).message).toContain(
      "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved",
    );
    expect((error as AthenaQueryError).state).toBe("FAILED");
    expect((error as AthenaQueryError).bytesScanned).toBe(2_345_678);
    expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
  });

  it("stops a query that outlives the timeout", async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolves(execution("RUNNING"));
    athena.on(StopQueryExecutionCommand).resolves({});
    let clock = 0;
    const error = await runAthenaQuery({
      client: new AthenaClient({ region: "us-east-1" }),
      sql: "SELECT 1",
      workGroup: "observatory",
      timeoutMs: 10_000,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/still RUNNING after 10 s; stopped it/);
    expect(athena.commandCalls(StopQueryExecutionCommand)[0]!.args[0].input).toEqual({
      QueryExecutionId: ID,
    });
  });
});

describe("interrupting", () => {
  it("stops the query on Athena when the signal aborts (Ctrl-C) instead of leaving it billing", async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolves(execution("RUNNING"));
    athena.on(StopQueryExecutionCommand).resolves({});
    const controller = new AbortController();
    const error = await runAthenaQuery({
      client: new AthenaClient({ region: "us-east-1" }),
      sql: "SELECT 1",
      workGroup: "observatory",
      signal: controller.signal,
      // The user presses Ctrl-C during the first wait; the wait ends at once.
      sleep: () => {
        controller.abort();
        return new Promise(() => {});
      },
    }).catch((e: unknown) => e);
    expect((error as AthenaQueryError).message).toMatch(/interrupted; stopped it/);
    expect(athena.commandCalls(StopQueryExecutionCommand)[0]!.args[0].input).toEqual({
      QueryExecutionId: ID,
    });
    expect(athena.commandCalls(GetQueryExecutionCommand)).toHaveLength(2);
  });
});

describe("athenaValue", () => {
  it("converts Athena's text by column type", () => {
    expect(athenaValue("2026-01-15 10:00:00.000 UTC", "timestamp with time zone")).toEqual(
      new Date("2026-01-15T10:00:00Z"),
    );
    expect(athenaValue("2026-01-15", "date")).toBe("2026-01-15");
    expect(athenaValue("123.45", "decimal(10,2)")).toBe(123.45);
    expect(athenaValue("12345678901234567890.12", "decimal(38,2)")).toBe("12345678901234567890.12");
    expect(athenaValue('{"a":1}', "json")).toEqual({ a: 1 });
    expect(athenaValue("[a, b]", "array(varchar)")).toBe("[a, b]");
    expect(athenaValue("7", "integer")).toBe(7);
  });
});

describe("Athena pricing", () => {
  it("bills 10 MB at least and whole megabytes above it, at $5 per TB", () => {
    expect(athenaBilledBytes(0)).toBe(ATHENA_MINIMUM_BILLED_BYTES);
    expect(athenaBilledBytes(10 * 1024 ** 2 + 1)).toBe(11 * 1024 ** 2);
    expect(athenaPriceUsd(BYTES_PER_TB)).toBe(5);
    expect(athenaPriceUsd(1)).toBeCloseTo(5 * (10 / 1024 ** 2), 12);
  });
});
