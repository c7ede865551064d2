// `observatory etl runs <job>` on AWS reads the job's DynamoDB ledger; here the ledger is a real
// DynamoDB-compatible server (dynalite) holding rows as the state machine's ledger states write them.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etlRunsOnAws } from "../cli/commands/etl-aws.js";
import { ensureLedgerTable } from "../etl/ledger.js";
import { type LocalDynamoDB, startLocalDynamoDB } from "../local/dynamodb-server.js";

const TABLE = "wordcount-ledger-8c1f2e7";

describe("etl runs on AWS", () => {
  let dir: string;
  let ddb: LocalDynamoDB;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-etl-runs-"));
    ddb = await startLocalDynamoDB({ directory: dir, port: 0 });
    await ensureLedgerTable(ddb.client, TABLE);
    const doc = DynamoDBDocumentClient.from(ddb.client);
    const rows = [
      {
        job: "wordcount",
        run: "2026-11-22T13-00",
        status: "SUCCEEDED",
        attempts: 1,
        started_at: "2026-11-22T13:00:01.120Z",
        finished_at: "2026-11-22T13:01:10.480Z",
        planned_items: 40,
        skipped_items: 0,
        total_items: 40,
        succeeded_items: 40,
        failed_items: 0,
        results_location: "s3://b/etl/results/wordcount/2026-11-22T13-00/",
        expires_at: 1_771_000_000,
      },
      {
        job: "wordcount",
        run: "2026-11-22T14-00",
        status: "FAILED",
        attempts: 2,
        started_at: "2026-11-22T14:00:01.050Z",
        finished_at: "2026-11-22T14:02:00.000Z",
        planned_items: 40,
        skipped_items: 30,
        error: "States.ExceedToleratedFailureThreshold",
        cause: "too many failed items",
        results_location: "s3://b/etl/results/wordcount/2026-11-22T14-00/",
        expires_at: 1_771_003_600,
      },
      { job: "compaction", run: "2026-11-22T14-00", status: "SUCCEEDED", attempts: 1 },
    ];
    for (const Item of rows) await doc.send(new PutCommand({ TableName: TABLE, Item }));
  });
  afterAll(async () => {
    await ddb?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the job's runs newest first, from the table named by the job's env var", async () => {
    const printed: string[] = [];
    await etlRunsOnAws(
      "wordcount",
      { format: "csv" },
      {
        dynamodb: ddb.client,
        env: { OBSERVATORY_WORDCOUNT_LEDGER_TABLE: TABLE },
        out: (t) => printed.push(t),
      },
    );
    expect(printed[0]!.split("\n")).toEqual([
      "run,status,attempts,started_at,finished_at,planned_items,skipped_items,total_items,succeeded_items,failed_items,error,results_location",
      "2026-11-22T14-00,FAILED,2,2026-11-22T14:00:01.050Z,2026-11-22T14:02:00.000Z,40,30,,,,States.ExceedToleratedFailureThreshold,s3://b/etl/results/wordcount/2026-11-22T14-00/",
      "2026-11-22T13-00,SUCCEEDED,1,2026-11-22T13:00:01.120Z,2026-11-22T13:01:10.480Z,40,0,40,40,0,,s3://b/etl/results/wordcount/2026-11-22T13-00/",
    ]);
  });

  it("honours --limit and --ledger-table, and says so when a job has no runs", async () => {
    const printed: string[] = [];
    await etlRunsOnAws(
      "wordcount",
      { format: "json", ledgerTable: TABLE, limit: 1 },
      { dynamodb: ddb.client, env: {}, out: (t) => printed.push(t) },
    );
    expect(JSON.parse(printed[0]!).map((r: { run: string }) => r.run)).toEqual(["2026-11-22T14-00"]);
    await etlRunsOnAws(
      "thumbnails",
      { ledgerTable: TABLE },
      { dynamodb: ddb.client, env: {}, out: (t) => printed.push(t) },
    );
    expect(printed[1]).toBe(`no runs of thumbnails in the ledger ${TABLE}`);
  });

  it("says which table setting is missing, and when the table does not exist", async () => {
    await expect(
      etlRunsOnAws("wordcount", {}, { dynamodb: ddb.client, env: {}, out: () => {} }),
    ).rejects.toThrow(/--ledger-table.*OBSERVATORY_WORDCOUNT_LEDGER_TABLE/);
    await expect(
      etlRunsOnAws(
        "wordcount",
        { ledgerTable: "no-such-ledger" },
        { dynamodb: ddb.client, env: {}, out: () => {} },
      ),
    ).rejects.toThrow(/no such table .*check the name and the region \(--region or AWS_REGION\)/);
  });
});
