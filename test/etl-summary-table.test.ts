// `etl start --local --wait` in --format table fits a 120-column terminal (the job's output one row
// per key, nested values abbreviated); json and csv keep the whole output. A real wordcount run on
// s3rver and dynalite, and the compaction output's shape through the table builder.
import { PassThrough } from "node:stream";
import stringWidth from "string-width";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etlRunsLocal, etlStartLocal } from "../cli/commands/etl-local.js";
import { runsTable, runsTableErrors, runsTableRows } from "../cli/commands/etl-runs-table.js";
import { SUMMARY_TABLE_WIDTH, summaryTableRows } from "../cli/commands/etl-summary-table.js";
import { ellipsize, formatRows } from "../cli/format.js";
import type { LedgerRun } from "../etl/ledger.js";
import type { LocalPeers } from "../local/step-functions/peers.js";
import { asLocalPeers, type EtlPeers, startEtlPeers } from "./support/etl-peers.js";

let etl: EtlPeers;
let peers: LocalPeers;
beforeAll(async () => {
  etl = await startEtlPeers("obs-etl-table-");
  peers = asLocalPeers(etl);
});
afterAll(async () => {
  await etl?.close();
});

/** What a run prints: stdout lines (io.out) and stderr (io.err). */
function capture() {
  const lines: string[] = [];
  const err = new PassThrough();
  const errChunks: Buffer[] = [];
  err.on("data", (chunk: Buffer) => errChunks.push(chunk));
  return {
    lines,
    out: (t: string) => lines.push(t),
    err,
    errText: () => Buffer.concat(errChunks).toString(),
  };
}

const widest = (text: string) => Math.max(...text.split("\n").map((line) => stringWidth(line)));

describe("etl start --local --format table", () => {
  it("prints a wordcount run within 120 columns, its output one row per key; json and csv keep it whole", async () => {
    const table = capture();
    expect(
      await etlStartLocal(
        "wordcount",
        { format: "table", runId: "table-1" },
        { out: table.out, err: table.err, peers },
      ),
    ).toBe(0);
    const printed = table.lines.join("\n");
    expect(widest(printed)).toBeLessThanOrEqual(SUMMARY_TABLE_WIDTH);
    expect(printed).toMatch(/^status\s+\| SUCCEEDED$/m);
    expect(printed).toMatch(/^output\.objects\s+\| 48$/m);
    // S3 locations stay whole, to be copied.
    expect(printed).toMatch(
      /^output\.counts_location\s+\| s3:\/\/observatory-local\/etl\/outputs\/wordcount\/table-1\/counts\.json$/m,
    );
    expect(printed).toMatch(/^output\.top\s+\| 10 items: \[\{"word":"the","count":\d+\},.*…$/m);
    expect(table.errText()).toContain("--format json or csv prints it whole");

    const json = capture();
    await etlStartLocal(
      "wordcount",
      { format: "json", runId: "table-1" },
      { out: json.out, err: json.err, peers },
    );
    const output = (JSON.parse(json.lines.join("\n")) as { output: { top: unknown[] } }).output;
    expect(output.top).toHaveLength(10);

    const csv = capture();
    await etlStartLocal(
      "wordcount",
      { format: "csv", runId: "table-1" },
      { out: csv.out, err: csv.err, peers },
    );
    const [header, row] = csv.lines.join("\n").split("\n");
    expect(header!.split(",").at(-1)).toBe("output");
    // The last CSV cell is the whole output as JSON, quotes doubled.
    const lastCell = row!.slice(row!.indexOf(',"{') + 1);
    expect(JSON.parse(lastCell.slice(1, -1).replaceAll('""', '"'))).toEqual(output);
  });
});

describe("etl runs --format table", () => {
  it("lists the local ledger within 120 columns and says where the other columns are", async () => {
    const io = capture();
    await etlStartLocal(
      "wordcount",
      { format: "json", runId: "runs-table-1" },
      { out: () => {}, err: io.err, peers },
    );
    const runs = capture();
    expect(
      await etlRunsLocal("wordcount", { format: "table" }, { out: runs.out, err: runs.err, peers }),
    ).toBe(0);
    const printed = runs.lines.join("\n");
    expect(widest(printed)).toBeLessThanOrEqual(SUMMARY_TABLE_WIDTH);
    expect(printed.split("\n")[0]).toMatch(
      /^run +\| status +\| tries \| started \(UTC\) +\| secs +\| items \| ok +\| failed \| skip$/,
    );
    expect(printed).toMatch(
      /^runs-table-1 +\| SUCCEEDED \| 1 +\| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| [\d.]+ +\| 48 +\| 48 \| 0 +\| 0 *$/m,
    );
    expect(runs.errText()).toContain("results_location with the failed items: --format json or csv");
  });

  it("shows a failed run's error, and a running one without a duration", () => {
    const runs: LedgerRun[] = [
      {
        job: "wordcount",
        run: "r-failed",
        status: "FAILED",
        attempts: 2,
        started_at: "2026-11-22T15:00:00.123Z",
        finished_at: "2026-11-22T15:03:20.623Z",
        total_items: 1000,
        succeeded_items: 939,
        failed_items: 61,
        error: "States.ExceedToleratedFailureThreshold",
        results_location: "s3://b/etl/results/wordcount/r-failed/",
      },
      {
        job: "wordcount",
        run: "r-running",
        status: "RUNNING",
        attempts: 1,
        started_at: "2026-11-22T16:00:00Z",
      },
    ];
    const rows = runsTableRows(runs);
    expect(rows[0]).toEqual({
      run: "r-failed",
      status: "FAILED",
      tries: 2,
      "started (UTC)": "2026-11-22 15:00:00",
      secs: 200.5,
      items: 1000,
      ok: 939,
      failed: 61,
      skip: undefined,
    });
    expect(rows[1]).toMatchObject({ run: "r-running", status: "RUNNING", secs: undefined });
    expect(runsTableErrors(runs)).toEqual(["r-failed FAILED: States.ExceedToleratedFailureThreshold"]);
  });

  it("keeps a 34-character run id, six-digit counts and every column within 120, the errors listed under the table", () => {
    const id = "wordcount-2026-11-22T15-00-00-123Z-abcdef"; // 41 characters: cut to 34
    const text = runsTable([
      {
        job: "wordcount",
        run: id,
        status: "SUCCEEDED",
        attempts: 12,
        started_at: "2026-11-22T15:00:00.123Z",
        finished_at: "2026-11-22T18:03:20.623Z",
        total_items: 123456,
        succeeded_items: 123000,
        failed_items: 456,
        skipped_items: 1000,
      },
      {
        job: "wordcount",
        run: "r-failed",
        status: "FAILED",
        attempts: 1,
        started_at: "2026-11-22T15:00:00Z",
        finished_at: "2026-11-22T15:00:01Z",
        error: "NoInputObjects",
      },
    ]);
    const lines = text.split("\n");
    expect(Math.max(...lines.slice(0, 4).map((line) => line.length))).toBeLessThanOrEqual(120);
    expect(lines[2]).toMatch(
      /^wordcount-2026-11-22T15-00-00-123… \| SUCCEEDED \| 12 +\| 2026-11-22 15:00:00 \| 11000\.5 \| 123456 \| 123000 \| 456 +\| 1000$/,
    );
    expect(lines.slice(4)).toEqual(["", "errors:", "  r-failed FAILED: NoInputObjects"]);
  });
});

describe("summaryTableRows", () => {
  it("spreads a compaction output over rows within 120 columns and says when it cut something", () => {
    const files = Array.from(
      { length: 12 },
      (_, n) => `tables/events/dt=2026-11-22/hour=${String(n).padStart(2, "0")}/part-4f1c9e2a.parquet`,
    );
    const { rows, abbreviated } = summaryTableRows({
      job: "compaction",
      status: "SUCCEEDED",
      error: null,
      output: {
        chunks_planned: 3,
        objects_consumed: 250,
        duplicates_against_existing: 0,
        rows_by_table: { events: 1000, quarantine: 9, search_made: 412 },
        files,
        state: "s3://observatory-local/compaction/state.json",
      },
    });
    const printed = formatRows(rows, "table");
    expect(widest(printed)).toBeLessThanOrEqual(SUMMARY_TABLE_WIDTH);
    expect(abbreviated).toBe(true);
    expect(printed).toMatch(
      /^output\.rows_by_table\s+\| \{"events":1000,"quarantine":9,"search_made":412\}$/m,
    );
    expect(printed).toMatch(/^output\.files\s+\| 12 items: \["tables\/events\/dt=2026-11-22\/hour=00\/.*…$/m);
    expect(printed).toMatch(/^output\.state\s+\| s3:\/\/observatory-local\/compaction\/state\.json$/m);
  });

  it("leaves a short output uncut, and an output that is no object (null, a list) in one row", () => {
    expect(summaryTableRows({ status: "SUCCEEDED", output: { objects: 2 } })).toEqual({
      rows: [
        { field: "status", value: "SUCCEEDED" },
        { field: "output.objects", value: 2 },
      ],
      abbreviated: false,
    });
    expect(summaryTableRows({ output: null }).rows).toEqual([{ field: "output", value: null }]);
    expect(summaryTableRows({ output: [1, 2] }).rows).toEqual([{ field: "output", value: "2 items: [1,2]" }]);
  });
});

describe("ellipsize", () => {
  it("cuts to display columns (wide characters count two) and ends in …", () => {
    expect(ellipsize("short", 10)).toBe("short");
    expect(ellipsize("abcdefghij", 5)).toBe("abcd…");
    expect(ellipsize("日本語のテキスト", 7)).toBe("日本語…");
    expect(stringWidth(ellipsize("日本語のテキスト", 7))).toBeLessThanOrEqual(7);
  });
});
