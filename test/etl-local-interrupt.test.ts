import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob } from "../etl/job-catalog.js";
import { getRun } from "../etl/ledger.js";
import type { LocalDynamoDB } from "../local/dynamodb-server.js";
import type { LocalS3 } from "../local/s3-server.js";
import { INTERRUPTED_ERROR } from "../local/step-functions/interrupt.js";
import { LOCAL_LEDGER_TABLE, runLocalJob } from "../local/step-functions/local-etl.js";
import { type EtlPeers, startEtlPeers } from "./support/etl-peers.js";

/**
 * F20: Ctrl-C during a local run records it FAILED (Interrupted) in the ledger instead of leaving it
 * RUNNING forever, the process still ends by the signal, and the same run id resumes it to SUCCEEDED.
 */
describe("local ETL run interrupted by a signal", () => {
  let s3: LocalS3;
  let ddb: LocalDynamoDB;

  let peers: EtlPeers | undefined;
  beforeAll(async () => {
    peers = await startEtlPeers("obs-etl-interrupt-");
    ({ s3, ddb } = peers);
  });
  afterAll(() => peers?.close());

  /** Runs the child until a worker is busy, sends `signal`, resolves with how it ended and its stderr. */
  async function interruptedRun(runId: string, signal: NodeJS.Signals) {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "test/support/interruptible-etl-run.ts",
        s3.endpoint,
        ddb.endpoint,
        s3.bucket,
        runId,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("exit", (code, sig) => resolve({ code, signal: sig })),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        stdout += String(d);
        if (stdout.includes("WORKING")) resolve();
      });
      ended.then(() => reject(new Error(`child ended before working: ${stderr}`)));
    });
    child.kill(signal);
    return { ...(await ended), stdout, stderr };
  }

  it("records FAILED (Interrupted) on SIGINT, ends by the signal, and resumes with the same run id", async () => {
    const runId = "interrupted-run-1";
    const ended = await interruptedRun(runId, "SIGINT");
    // Ended as Ctrl-C ends a process (the shell reports 130), not by finishing.
    expect(ended.signal).toBe("SIGINT");
    expect(ended.stdout).not.toContain("FINISHED");
    expect(ended.stderr).toContain(`resume it with --run-id ${runId}`);
    const row = await getRun(ddb.client, LOCAL_LEDGER_TABLE, "wordcount", runId);
    expect(row).toMatchObject({ status: "FAILED", error: INTERRUPTED_ERROR, attempts: 1 });
    expect(row?.cause).toContain("SIGINT");
    expect(row?.finished_at).toBeDefined();

    const job = getJob("wordcount");
    if (!job) throw new Error("wordcount job not registered");
    const resumed = await runLocalJob({ job, s3: s3.client, bucket: s3.bucket, dynamodb: ddb.client, runId });
    expect(resumed.result.status).toBe("SUCCEEDED");
    expect(resumed.ledger).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
  });

  it("does the same on SIGTERM", async () => {
    const ended = await interruptedRun("interrupted-run-2", "SIGTERM");
    expect(ended.signal).toBe("SIGTERM");
    const row = await getRun(ddb.client, LOCAL_LEDGER_TABLE, "wordcount", "interrupted-run-2");
    expect(row).toMatchObject({ status: "FAILED", error: INTERRUPTED_ERROR });
  });
});
