import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCostCommand } from "../cli/commands/cost.js";
import { type CommandIo, runQueryCommand, useAthena } from "../cli/commands/query.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { expectedAnswers, type QueryFixture, writeQueryFixture } from "./query-fixtures.js";

let dir: string;
let s3: LocalS3;
let fixture: QueryFixture;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "obs-query-cli-"));
  // Stands in for a running `observatory dev`: the command finds it by its port.
  s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
  fixture = await writeQueryFixture({
    s3: s3.client,
    bucket: s3.bucket,
    workDir: join(dir, "work"),
    events: 1500,
  });
}, 60_000);
afterAll(async () => {
  await s3?.close();
  await rm(dir, { recursive: true, force: true });
});

function capture(env: NodeJS.ProcessEnv = {}, athena?: AthenaClient) {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough().on("data", (c) => out.push(String(c)));
  const stderr = new PassThrough().on("data", (c) => err.push(String(c)));
  const io: CommandIo = { stdout, stderr, env, athena };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

describe("observatory query --local", () => {
  it("prints a named query's rows as JSON and what it would cost on Athena", async () => {
    const { io, out, err } = capture();
    const code = await runQueryCommand(
      undefined,
      { named: "daily_active_users", format: "json", s3Port: s3.port, dataDir: join(dir, "data") },
      io,
    );
    expect(code).toBe(0);
    expect(JSON.parse(out())).toEqual(expectedAnswers(fixture).daily_active_users);
    expect(err()).toMatch(/running local stack's S3/);
    const days = expectedAnswers(fixture).daily_active_users.length;
    expect(err()).toMatch(new RegExp(`${days} rows \\(local, would scan [\\d.]+ KB on Athena \\(\\$`));
    expect(err()).not.toMatch(/2 rows \(local, would scan [\d.]+ KB on Athena \(\$/);
  });

  it("prints CSV with a header", async () => {
    const { io, out } = capture();
    await runQueryCommand(
      "SELECT reason, num_rejected FROM (SELECT 'a,b' AS reason, 2 AS num_rejected)",
      { format: "csv", s3Port: s3.port, dataDir: join(dir, "data") },
      io,
    );
    expect(out()).toBe('reason,num_rejected\n"a,b",2\n');
  });

  it("reads the SQL from stdin with -", async () => {
    const { io, out } = capture();
    io.stdin = Readable.from(["SELECT count(*) AS n\n", "FROM search_made -- a .sql file\n"]);
    await runQueryCommand("-", { format: "json", s3Port: s3.port, dataDir: join(dir, "data") }, io);
    expect(JSON.parse(out())).toEqual([
      { n: fixture.events.filter((e) => e.event === "search_made").length },
    ]);
  });

  it("fails clearly on SQL errors and on contradictory options", async () => {
    await expect(
      runQueryCommand(
        "SELECT nope FROM events",
        { format: "table", s3Port: s3.port, dataDir: join(dir, "data") },
        capture().io,
      ),
    ).rejects.toThrow(/nope/);
    await expect(
      runQueryCommand(
        "SELECT 1",
        { named: "daily_active_users", format: "table", dataDir: join(dir, "data") },
        capture().io,
      ),
    ).rejects.toThrow(/either SQL or --named/);
    await expect(
      runQueryCommand(
        undefined,
        { named: "nope", format: "table", dataDir: join(dir, "data") },
        capture().io,
      ),
    ).rejects.toThrow(/no named query "nope"; have: /);
  });
});

describe("choosing the engine", () => {
  it("uses Athena only when asked or when a workgroup is configured", () => {
    expect(useAthena({}, {})).toBe(false);
    expect(useAthena({}, { OBSERVATORY_ATHENA_WORKGROUP: "obs" })).toBe(true);
    expect(useAthena({ local: true }, { OBSERVATORY_ATHENA_WORKGROUP: "obs" })).toBe(false);
    expect(useAthena({ athena: true }, {})).toBe(true);
    expect(() => useAthena({ athena: true, local: true }, {})).toThrow(/one of --local and --athena/);
  });

  it("says what to set when the AWS SDK has no region", async () => {
    const saved = {
      region: process.env.AWS_REGION,
      defaultRegion: process.env.AWS_DEFAULT_REGION,
      profile: process.env.AWS_PROFILE,
    };
    delete process.env.AWS_REGION;
    delete process.env.AWS_DEFAULT_REGION;
    process.env.AWS_PROFILE = "observatory-test-no-such-profile";
    try {
      await expect(
        runQueryCommand("SELECT 1", { athena: true, workgroup: "wg", format: "json" }, capture().io),
      ).rejects.toThrow(/no AWS region: set AWS_REGION/);
    } finally {
      for (const [key, value] of [
        ["AWS_REGION", saved.region],
        ["AWS_DEFAULT_REGION", saved.defaultRegion],
        ["AWS_PROFILE", saved.profile],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it("runs on Athena in the workgroup from the environment and reports bytes and price", async () => {
    const athena = mockClient(AthenaClient);
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: "q-1" });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: {
        QueryExecutionId: "q-1",
        StatementType: "DML",
        Status: { State: "SUCCEEDED" },
        Statistics: { DataScannedInBytes: 52_428_800, EngineExecutionTimeInMillis: 900 },
      },
    });
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: {
        Rows: [
          { Data: [{ VarCharValue: "dt" }, { VarCharValue: "active_users" }] },
          { Data: [{ VarCharValue: "2026-01-15" }, { VarCharValue: "204" }] },
        ],
        ResultSetMetadata: {
          ColumnInfo: [
            { Name: "dt", Label: "dt", Type: "varchar" },
            { Name: "active_users", Label: "active_users", Type: "bigint" },
          ],
        },
      },
    });
    const { io, out, err } = capture(
      { OBSERVATORY_ATHENA_WORKGROUP: "observatory-wg", OBSERVATORY_ATHENA_DATABASE: "observatory_db" },
      new AthenaClient({ region: "us-east-1" }),
    );
    await runQueryCommand(undefined, { named: "daily_active_users", format: "json" }, io);
    expect(JSON.parse(out())).toEqual([{ dt: "2026-01-15", active_users: 204 }]);
    const input = athena.commandCalls(StartQueryExecutionCommand)[0]!.args[0].input;
    expect(input.WorkGroup).toBe("observatory-wg");
    expect(input.QueryExecutionContext?.Database).toBe("observatory_db");
    expect(input.QueryString).toContain("count(DISTINCT coalesce(user_id, anonymous_id))");
    expect(err()).toMatch(/Athena: SUCCEEDED/);
    expect(err()).toMatch(/1 row \(Athena q-1, scanned 50.0 MB, \$0.00024\)/);
    athena.restore();
  });
});

describe("observatory cost", () => {
  it("fails on an unknown table as query does, printing no price", async () => {
    const { io, out } = capture();
    const options = { format: "table" as const, s3Port: s3.port, dataDir: join(dir, "data") };
    await expect(runCostCommand("SELECT * FROM nosuch", options, io)).rejects.toThrow(
      /Table with name nosuch does not exist/,
    );
    await expect(runQueryCommand("SELECT * FROM nosuch", options, capture().io)).rejects.toThrow(
      /Table with name nosuch does not exist/,
    );
    expect(out()).toBe("");
  });

  it("prices every named query from the local tables", async () => {
    const { io, out } = capture();
    await runCostCommand(
      undefined,
      { allNamed: true, format: "json", s3Port: s3.port, dataDir: join(dir, "data") },
      io,
    );
    const rows = JSON.parse(out()) as {
      name: string;
      tables: string;
      bytes_scanned: number;
      table_bytes: number;
      price_usd: number;
    }[];
    expect(rows.map((r) => r.name)).toEqual([
      "downloads_uploads_per_user",
      "bytes_downloaded_per_user",
      "popular_searches",
      "rejected_events_by_reason",
      "daily_active_users",
    ]);
    expect(rows.find((r) => r.name === "popular_searches")!.tables).toBe("search_made");
    for (const row of rows) {
      expect(row.bytes_scanned).toBeGreaterThan(0);
      expect(row.bytes_scanned).toBeLessThanOrEqual(row.table_bytes);
    }
  });

  it("explains one query's scan as a table", async () => {
    const { io, out } = capture();
    await runCostCommand(
      "SELECT user_id FROM events WHERE dt = '2026-01-15'",
      { format: "table", s3Port: s3.port, dataDir: join(dir, "data") },
      io,
    );
    expect(out()).toMatch(/events \| \d+\/\d+ +\| \d+\/\d+ +\| user_id/);
    expect(out()).toMatch(/billed +10.0 MB/);
    expect(out()).toMatch(/price +\$0\.000048 at \$5 per TB/);
  });
});
