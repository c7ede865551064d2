// `observatory etl start <job> --local` and `etl definition`, through the command functions, on real
// local peers handed in (tests must not take the fixed ports of `observatory dev`).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { etlRunsLocal, etlStartLocal } from "../cli/commands/etl-local.js";
import { buildProgram } from "../cli/main.js";
import { defineJob } from "../etl/jobs.js";
import { listRuns } from "../etl/ledger.js";
import { type LocalDynamoDB, startLocalDynamoDB } from "../local/dynamodb-server.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { startLocalStack } from "../local/stack.js";
import { LOCAL_LEDGER_TABLE } from "../local/step-functions/local-etl.js";
import type { LocalPeers } from "../local/step-functions/peers.js";
import { asLocalPeers } from "./support/etl-peers.js";

let dir: string;
let s3: LocalS3;
let ddb: LocalDynamoDB;
let peers: LocalPeers;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "obs-etl-cli-"));
  s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
  ddb = await startLocalDynamoDB({ port: 0 });
  peers = asLocalPeers({ s3, ddb });
});
afterAll(async () => {
  await s3?.close();
  await ddb?.close();
  await rm(dir, { recursive: true, force: true });
});

function capture() {
  const lines: string[] = [];
  let errText = "";
  const err = new Writable({
    write(chunk, _enc, done) {
      errText += String(chunk);
      done();
    },
  });
  return { lines, out: (t: string) => lines.push(t), err, errText: () => errText };
}

describe("observatory etl start --local", () => {
  it("seeds the wordcount input on a fresh store, runs it, and prints a JSON summary", async () => {
    const io = capture();
    const code = await etlStartLocal(
      "wordcount",
      { format: "json", runId: "cli-1", threads: 0 },
      { out: io.out, err: io.err, peers },
    );
    expect(code).toBe(0);
    const summary = JSON.parse(io.lines.join("\n")) as Record<string, unknown>;
    expect(summary).toMatchObject({
      job: "wordcount",
      run_id: "cli-1",
      status: "SUCCEEDED",
      items_total: 48,
      succeeded: 48,
      failed: 0,
      failed_items: [],
    });
    expect((summary.output as { objects: number }).objects).toBe(48);

    // Same run id again: not redone, and said so.
    const again = capture();
    expect(
      await etlStartLocal(
        "wordcount",
        { format: "table", runId: "cli-1", threads: 0 },
        { out: again.out, err: again.err, peers },
      ),
    ).toBe(0);
    expect(again.lines.join("\n")).toMatch(/status\s+\|\s+ALREADY_SUCCEEDED/);
    expect(again.errText()).toMatch(/already SUCCEEDED: nothing was redone/);

    const runs = capture();
    await etlRunsLocal("wordcount", { format: "csv" }, { out: runs.out, peers });
    expect(runs.lines.join("\n")).toMatch(/^run,status,/);
    expect(runs.lines.join("\n")).toMatch(/cli-1,SUCCEEDED,1,/);
  });

  it("an empty --input prefix is not seeded: the run ends FAILED and the table says why", async () => {
    const io = capture();
    const code = await etlStartLocal(
      "wordcount",
      { format: "table", runId: "empty-1", input: '{"prefix":"etl/inputs/talks/"}' },
      { out: io.out, err: io.err, peers },
    );
    expect(code).toBe(1);
    const table = io.lines.join("\n");
    expect(table).toMatch(/status\s+\|\s+FAILED/);
    expect(table).toMatch(/error\s+\|\s+NoInputObjects/);
    // The cause is wrapped over rows whose field is empty; every line fits 120 columns.
    expect(Math.max(...table.split("\n").map((line) => line.length))).toBeLessThanOrEqual(120);
    expect(table.replace(/\n +\| /g, " ")).toMatch(
      /cause\s+\|\s+no objects under s3:\/\/observatory-local\/etl\/inputs\/talks\/: upload your text files there first, e\.g\. with the AWS CLI against the local S3 endpoint/,
    );
    const listed = await s3.client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "etl/inputs/talks/" }),
    );
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  it("a failed run exits 1 and lists its failed items with their errors", async () => {
    defineJob({
      spec: { name: "cli-fails", concurrency: 1, batching: { maxItems: 1 }, retry: { maxAttempts: 0 } },
      plan: async () => Array.from({ length: 10 }, (_, n) => ({ id: `doc-${n}` })),
      work: async (items) => {
        if (items.some((i) => i.id === "doc-3")) throw new Error("doc-3 is not UTF-8");
        return null;
      },
      finalize: async () => null,
    });
    const json = capture();
    expect(
      await etlStartLocal(
        "cli-fails",
        { format: "json", runId: "f-1" },
        { out: json.out, err: json.err, peers },
      ),
    ).toBe(1);
    const summary = JSON.parse(json.lines.join("\n")) as Record<string, unknown>;
    expect(summary).toMatchObject({
      status: "FAILED",
      error: "States.ExceedToleratedFailureThreshold",
      failed: 1,
      failed_items: [{ id: "doc-3", error: "Error", cause: "doc-3 is not UTF-8" }],
    });
    const table = capture();
    expect(
      await etlStartLocal(
        "cli-fails",
        { format: "table", runId: "f-2" },
        { out: table.out, err: table.err, peers },
      ),
    ).toBe(1);
    expect(table.errText()).toMatch(/failed items \(1\):[\s\S]*doc-3 \| Error \| doc-3 is not UTF-8/);
  });

  it("says clearly what is wrong with bad input and an unknown job", async () => {
    await expect(etlStartLocal("wordcount", { input: "{not json" }, { peers })).rejects.toThrow(
      /--input is not JSON/,
    );
    await expect(etlStartLocal("wordcount", { runId: "a/b" }, { peers })).rejects.toThrow(
      /run id "a\/b" must match/,
    );
    await expect(etlStartLocal("nope", {}, { peers })).rejects.toThrow(
      /unknown ETL job "nope"; known jobs: .*wordcount/,
    );
  });
});

describe("observatory etl definition", () => {
  it("prints the ASL of a job, with placeholders marked", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await buildProgram().parseAsync(["node", "observatory", "etl", "definition", "wordcount"]);
      const definition = JSON.parse(String(log.mock.calls[0]![0])) as {
        StartAt: string;
        States: Record<string, { Resource?: string }>;
      };
      expect(definition.StartAt).toBe("Defaults");
      expect(definition.States.Plan?.Resource).toMatch(/function:PLACEHOLDER-wordcount-planner$/);
      expect(String(stderr.mock.calls[0]![0])).toMatch(/PLACEHOLDER/);
    } finally {
      log.mockRestore();
      stderr.mockRestore();
    }
  });
});

describe("etl --local finds the local stack like every command", () => {
  it("start --data-dir runs in a stack on other ports (its ledger), runs --s3-endpoint/--dynamodb-endpoint reads it", async () => {
    const dataDir = join(dir, "stack");
    const stack = await startLocalStack({ dataDir, s3Port: 0, collectorPort: 0, dynamoPort: 0, quiet: true });
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    let errText = "";
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      errText += String(chunk);
      return true;
    });
    try {
      const cli = (...args: string[]) => buildProgram().parseAsync(["node", "observatory", "etl", ...args]);
      await cli(
        "start",
        "wordcount",
        "--local",
        "--data-dir",
        dataDir,
        "--run-id",
        "found-1",
        "--format",
        "json",
      );
      expect(errText).toContain(
        `S3: the running local stack's S3 at ${stack.s3.endpoint} (from ${join(dataDir, "stack.json")})`,
      );
      const runs = await listRuns(stack.dynamodb.client, LOCAL_LEDGER_TABLE, "wordcount");
      expect(runs.map((r) => [r.run, r.status])).toEqual([["found-1", "SUCCEEDED"]]);
      log.mockClear();
      await cli(
        "runs",
        "wordcount",
        "--local",
        "--s3-endpoint",
        stack.s3.endpoint,
        "--dynamodb-endpoint",
        stack.dynamodb.endpoint,
        "--format",
        "json",
      );
      const listed = JSON.parse(String(log.mock.calls.at(-1)![0])) as { run: string }[];
      expect(listed.map((r) => r.run)).toEqual(["found-1"]);
    } finally {
      log.mockRestore();
      stderr.mockRestore();
      process.exitCode = undefined;
      await stack.close();
    }
  }, 60_000);
});
