// `observatory etl start|status` on AWS through the real commander program (cli/main.ts): flags reach
// Step Functions as they should. The SFN client is aws-sdk-client-mock with API-reference shapes.
import {
  DescribeExecutionCommand,
  ListMapRunsCommand,
  SFNClient,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildProgram } from "../cli/main.js";

const MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:wordcount-state-machine-5d1e9a0";
const EXECUTION =
  "arn:aws:states:eu-west-1:123456789012:execution:wordcount-state-machine-5d1e9a0:nightly-2026-11-22";
const START = new Date("2026-11-22T02:00:00.000Z");
const meta = {
  httpStatusCode: 200,
  requestId: "0f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c",
  attempts: 1,
  totalRetryDelay: 0,
};
const sfn = mockClient(SFNClient);

async function run(...args: string[]): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((text: string) => void lines.push(text));
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(["node", "observatory", ...args]);
  } finally {
    log.mockRestore();
  }
  return lines.join("\n");
}

beforeEach(() => {
  sfn.reset();
  process.exitCode = undefined;
});
afterEach(() => {
  delete process.env.OBSERVATORY_WORDCOUNT_STATE_MACHINE_ARN;
  process.exitCode = undefined;
});

describe("observatory etl (AWS)", () => {
  it("start <job> uses OBSERVATORY_<JOB>_STATE_MACHINE_ARN; --input is the planner's input, --run-id the ledger run, as with --local", async () => {
    process.env.OBSERVATORY_WORDCOUNT_STATE_MACHINE_ARN = MACHINE;
    sfn.on(StartExecutionCommand).resolves({ $metadata: meta, executionArn: EXECUTION, startDate: START });
    const out = await run(
      "etl",
      "start",
      "wordcount",
      "--input",
      '{"prefix":"etl/inputs/talks/"}',
      "--run-id",
      "nightly-2026-11-22",
      "--name",
      "nightly-2026-11-22",
      "--format",
      "json",
    );
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({
      stateMachineArn: MACHINE,
      input: '{"run_id":"nightly-2026-11-22","input":{"prefix":"etl/inputs/talks/"}}',
      name: "nightly-2026-11-22",
    });
    expect(JSON.parse(out)).toEqual({ execution_arn: EXECUTION, started: START.toISOString() });
    expect(process.exitCode).toBe(0);
  });

  it("start refuses a run id that could reach another run's objects, before calling AWS", async () => {
    process.env.OBSERVATORY_WORDCOUNT_STATE_MACHINE_ARN = MACHINE;
    sfn.on(StartExecutionCommand).resolves({ $metadata: meta, executionArn: EXECUTION, startDate: START });
    await expect(run("etl", "start", "wordcount", "--run-id", "../other-run")).rejects.toThrow(/run/i);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it("status <execution ARN> prints a table and leaves the exit status 0", async () => {
    sfn.on(DescribeExecutionCommand).resolves({
      $metadata: meta,
      executionArn: EXECUTION,
      stateMachineArn: MACHINE,
      name: "nightly-2026-11-22",
      status: "SUCCEEDED",
      startDate: START,
      stopDate: new Date("2026-11-22T02:00:42.500Z"),
      output: '{"total_items":40,"succeeded_items":40,"failed_items":0}',
    });
    sfn.on(ListMapRunsCommand).resolves({ $metadata: meta, mapRuns: [] });
    const out = await run("etl", "status", EXECUTION);
    // One field | value row per field the execution has (no Map Run here: no item counts).
    expect(out.split("\n")).toEqual([
      "field      | value",
      `${"-".repeat(10)}-+-${"-".repeat(50)}`,
      "execution  | wordcount-state-machine-5d1e9a0:nightly-2026-11-22",
      "status     | SUCCEEDED",
      "started    | 2026-11-22T02:00:00.000Z",
      "stopped    | 2026-11-22T02:00:42.500Z",
      "duration_s | 42.5",
    ]);
    expect(process.exitCode).toBe(0);
  });

  it("status and start call the region their ARN names, whatever AWS_REGION says", async () => {
    const east = EXECUTION.replace("eu-west-1", "us-east-1");
    sfn.on(DescribeExecutionCommand).resolves({
      $metadata: meta,
      executionArn: east,
      stateMachineArn: MACHINE.replace("eu-west-1", "us-east-1"),
      status: "RUNNING",
      startDate: START,
    });
    sfn.on(ListMapRunsCommand).resolves({ $metadata: meta, mapRuns: [] });
    sfn.on(StartExecutionCommand).resolves({ $metadata: meta, executionArn: east, startDate: START });
    const region = process.env.AWS_REGION;
    process.env.AWS_REGION = "ap-southeast-2";
    try {
      await run("etl", "status", east);
      await run("etl", "start", MACHINE.replace("eu-west-1", "us-east-1"));
    } finally {
      if (region === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = region;
    }
    const regions = await Promise.all(
      sfn.calls().map((call) => (call.thisValue as SFNClient).config.region()),
    );
    expect(regions.length).toBeGreaterThanOrEqual(3);
    expect(new Set(regions)).toEqual(new Set(["us-east-1"]));
    await expect(run("etl", "status", east, "--region", "eu-west-1")).rejects.toThrow(
      /--region eu-west-1 contradicts .* which is in us-east-1/,
    );
  });

  it("start --wait exits non-zero when the run fails", async () => {
    sfn.on(StartExecutionCommand).resolves({ $metadata: meta, executionArn: EXECUTION, startDate: START });
    sfn.on(DescribeExecutionCommand).resolves({
      $metadata: meta,
      executionArn: EXECUTION,
      stateMachineArn: MACHINE,
      status: "FAILED",
      startDate: START,
      stopDate: new Date("2026-11-22T02:01:00.000Z"),
      error: "States.ExceedToleratedFailureThreshold",
      cause: "The specified tolerated failure threshold was exceeded",
    });
    sfn.on(ListMapRunsCommand).resolves({ $metadata: meta, mapRuns: [] });
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const out = await run("etl", "start", MACHINE, "--wait", "--format", "csv");
      expect(out.split("\n")[1]).toContain("FAILED");
      expect(out).toContain("States.ExceedToleratedFailureThreshold");
    } finally {
      stderr.mockRestore();
    }
    expect(process.exitCode).toBe(1);
  });
});
