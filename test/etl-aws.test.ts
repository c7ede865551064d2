// The AWS path of `observatory etl` against aws-sdk-client-mock. Responses copy the shapes of the
// Step Functions API reference (StartExecution, DescribeExecution, ListMapRuns, DescribeMapRun):
// field names as documented, dates as Date objects as the SDK returns them.
import { PassThrough } from "node:stream";
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeMapRunCommand,
  type DescribeMapRunCommandOutput,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  ListMapRunsCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { etlStartOnAws, etlStatusOnAws, INTERRUPTED_EXIT_CODE, statusRows } from "../cli/commands/etl-aws.js";
import {
  describeExecution,
  EtlAwsError,
  MAX_CONSECUTIVE_THROTTLES,
  newExecutionName,
  resolveStateMachineArn,
  stateMachineArnEnvVar,
  WaitStopped,
  waitForExecution,
} from "../etl/aws-client.js";

const ACCOUNT = "123456789012";
const MACHINE = `arn:aws:states:eu-west-1:${ACCOUNT}:stateMachine:wordcount-fleet-4f2a9c1`;
const EXECUTION = `arn:aws:states:eu-west-1:${ACCOUNT}:execution:wordcount-fleet-4f2a9c1:run-2026-11-22T15`;
const MAP_RUN = `arn:aws:states:eu-west-1:${ACCOUNT}:mapRun:wordcount-fleet-4f2a9c1/Process:0c4d2f1e-9a7b-3c55-8e21-2f9b0d6a4c11`;
const START = new Date("2026-11-22T15:00:00.123Z");
const STOP = new Date("2026-11-22T15:03:20.623Z");
const meta = {
  httpStatusCode: 200,
  requestId: "5b6f1e6c-7a2e-4f0e-9f1a-1d2c3b4a5e6f",
  attempts: 1,
  totalRetryDelay: 0,
};

function execution(overrides: Partial<DescribeExecutionCommandOutput>): DescribeExecutionCommandOutput {
  return {
    $metadata: meta,
    executionArn: EXECUTION,
    stateMachineArn: MACHINE,
    name: "run-2026-11-22T15",
    status: "RUNNING",
    startDate: START,
    input: '{"job":"wordcount"}',
    inputDetails: { included: true },
    redriveCount: 0,
    redriveStatus: "NOT_REDRIVABLE",
    redriveStatusReason: "Execution is RUNNING and cannot be redriven",
    ...overrides,
  };
}

function itemCounts(c: Partial<Record<string, number>>) {
  const base = {
    pending: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    timedOut: 0,
    aborted: 0,
    total: 0,
    resultsWritten: 0,
    failuresNotRedrivable: 0,
    pendingRedrive: 0,
  };
  return { ...base, ...c };
}

function mapRun(overrides: Partial<DescribeMapRunCommandOutput>): DescribeMapRunCommandOutput {
  return {
    $metadata: meta,
    mapRunArn: MAP_RUN,
    executionArn: EXECUTION,
    status: "RUNNING",
    startDate: new Date("2026-11-22T15:00:01.500Z"),
    maxConcurrency: 40,
    toleratedFailurePercentage: 5,
    toleratedFailureCount: 0,
    itemCounts: itemCounts({ total: 1000, running: 40, pending: 960 }),
    executionCounts: itemCounts({ total: 100, running: 40, pending: 60 }),
    redriveCount: 0,
    ...overrides,
  };
}

function throttling(): SFNServiceException {
  return new SFNServiceException({
    name: "ThrottlingException",
    $fault: "client",
    message: "Rate exceeded",
    $metadata: { httpStatusCode: 400, requestId: "a1b2", attempts: 3, totalRetryDelay: 1200 },
  });
}

const sfn = mockClient(SFNClient);
const client = new SFNClient({ region: "eu-west-1" });
const noSleep = async () => {};

beforeEach(() => sfn.reset());
afterEach(() => sfn.reset());

describe("resolving a job to its state machine", () => {
  it("uses an ARN as is and a job name through its env var", () => {
    expect(resolveStateMachineArn(MACHINE)).toBe(MACHINE);
    expect(stateMachineArnEnvVar("word-count")).toBe("OBSERVATORY_WORD_COUNT_STATE_MACHINE_ARN");
    expect(
      resolveStateMachineArn("wordcount", { env: { OBSERVATORY_WORDCOUNT_STATE_MACHINE_ARN: MACHINE } }),
    ).toBe(MACHINE);
    const other = MACHINE.replace("wordcount-fleet-4f2a9c1", "other");
    expect(
      resolveStateMachineArn("wordcount", {
        stateMachineArn: other,
        env: { OBSERVATORY_WORDCOUNT_STATE_MACHINE_ARN: MACHINE },
      }),
    ).toBe(other);
  });

  it("says which flag or variable to set when a job is unknown, and refuses a non-machine ARN", () => {
    expect(() => resolveStateMachineArn("wordcount", { env: {} })).toThrow(
      /--state-machine-arn.*OBSERVATORY_WORDCOUNT_STATE_MACHINE_ARN.*--local/,
    );
    expect(() => resolveStateMachineArn(EXECUTION)).toThrow(/not a state machine ARN/);
    expect(() =>
      resolveStateMachineArn("wordcount", { env: { OBSERVATORY_WORDCOUNT_STATE_MACHINE_ARN: "wordcount" } }),
    ).toThrow(/not a state machine ARN/);
  });
});

describe("etl status", () => {
  it("reports a succeeded run with timings and the Map Run's item counts", async () => {
    sfn.on(DescribeExecutionCommand, { executionArn: EXECUTION }).resolves(
      execution({
        status: "SUCCEEDED",
        stopDate: STOP,
        output: '{"words":48211,"failed_items":0}',
        outputDetails: { included: true },
      }),
    );
    sfn.on(ListMapRunsCommand).resolves({
      $metadata: meta,
      mapRuns: [
        {
          executionArn: EXECUTION,
          mapRunArn: MAP_RUN,
          stateMachineArn: MACHINE,
          startDate: START,
          stopDate: STOP,
        },
      ],
    });
    sfn.on(DescribeMapRunCommand, { mapRunArn: MAP_RUN }).resolves(
      mapRun({
        status: "SUCCEEDED",
        stopDate: STOP,
        itemCounts: itemCounts({ total: 1000, succeeded: 1000, resultsWritten: 1000 }),
      }),
    );
    const report = await describeExecution(client, EXECUTION);
    expect(report.status).toBe("SUCCEEDED");
    expect(report.durationMs).toBe(200_500);
    expect(report.output).toEqual({ words: 48211, failed_items: 0 });
    expect(report.items).toMatchObject({ total: 1000, succeeded: 1000, failed: 0, resultsWritten: 1000 });
    expect(report.mapRuns[0]).toMatchObject({
      maxConcurrency: 40,
      toleratedFailurePercentage: 5,
      status: "SUCCEEDED",
    });

    const printed: string[] = [];
    const code = await etlStatusOnAws(EXECUTION, { format: "csv" }, { client, out: (t) => printed.push(t) });
    expect(code).toBe(0);
    const [header, row] = printed[0]!.split("\n");
    expect(header).toBe(
      "execution,status,started,stopped,duration_s,map_run,map_run_status,items_total,succeeded,failed,timed_out,aborted,running,pending,results_written,error,cause",
    );
    expect(row).toBe(
      "wordcount-fleet-4f2a9c1:run-2026-11-22T15,SUCCEEDED,2026-11-22T15:00:00.123Z,2026-11-22T15:03:20.623Z,200.5," +
        "wordcount-fleet-4f2a9c1/Process:0c4d2f1e-9a7b-3c55-8e21-2f9b0d6a4c11,SUCCEEDED,1000,1000,0,0,0,0,0,1000,,",
    );
  });

  it("reports a failed run with its error and cause, and the Map Run's failures", async () => {
    const cause =
      "The specified tolerated failure threshold was exceeded: 61 of 1000 items failed (tolerated 5%)";
    sfn.on(DescribeExecutionCommand).resolves(
      execution({
        status: "FAILED",
        stopDate: STOP,
        error: "States.ExceedToleratedFailureThreshold",
        cause,
        redriveStatus: "REDRIVABLE",
      }),
    );
    sfn.on(ListMapRunsCommand).resolves({
      $metadata: meta,
      mapRuns: [
        {
          executionArn: EXECUTION,
          mapRunArn: MAP_RUN,
          stateMachineArn: MACHINE,
          startDate: START,
          stopDate: STOP,
        },
      ],
    });
    sfn.on(DescribeMapRunCommand).resolves(
      mapRun({
        status: "FAILED",
        stopDate: STOP,
        itemCounts: itemCounts({
          total: 1000,
          succeeded: 920,
          failed: 58,
          timedOut: 3,
          aborted: 19,
          resultsWritten: 1000,
          failuresNotRedrivable: 0,
        }),
        executionCounts: itemCounts({ total: 100, succeeded: 92, failed: 6, aborted: 2 }),
      }),
    );
    const printed: string[] = [];
    await etlStatusOnAws(EXECUTION, { format: "json" }, { client, out: (t) => printed.push(t) });
    const json = JSON.parse(printed[0]!);
    expect(json).toMatchObject({ status: "FAILED", error: "States.ExceedToleratedFailureThreshold", cause });
    expect(json.items).toMatchObject({ total: 1000, succeeded: 920, failed: 58, timedOut: 3, aborted: 19 });
    expect(json.startDate).toBe("2026-11-22T15:00:00.123Z");
    const [row] = statusRows(await describeExecution(client, EXECUTION));
    expect(row).toMatchObject({
      status: "FAILED",
      failed: 58,
      timed_out: 3,
      aborted: 19,
      error: "States.ExceedToleratedFailureThreshold",
    });
  });

  it("follows every page of ListMapRuns and sums item counts over the Map Runs", async () => {
    const second = MAP_RUN.replace("Process:0c4d", "Process:9e8f");
    sfn.on(DescribeExecutionCommand).resolves(execution({ status: "RUNNING" }));
    sfn.on(ListMapRunsCommand, { executionArn: EXECUTION, nextToken: undefined }).resolves({
      $metadata: meta,
      mapRuns: [{ executionArn: EXECUTION, mapRunArn: MAP_RUN, stateMachineArn: MACHINE, startDate: START }],
      nextToken: "AAAAKgAAAAIAAAAAAAAAAQ",
    });
    sfn.on(ListMapRunsCommand, { executionArn: EXECUTION, nextToken: "AAAAKgAAAAIAAAAAAAAAAQ" }).resolves({
      $metadata: meta,
      mapRuns: [{ executionArn: EXECUTION, mapRunArn: second, stateMachineArn: MACHINE, startDate: START }],
    });
    sfn
      .on(DescribeMapRunCommand, { mapRunArn: MAP_RUN })
      .resolves(
        mapRun({ itemCounts: itemCounts({ total: 1000, succeeded: 600, running: 40, pending: 360 }) }),
      );
    sfn.on(DescribeMapRunCommand, { mapRunArn: second }).resolves(
      mapRun({
        mapRunArn: second,
        itemCounts: itemCounts({ total: 500, succeeded: 100, failed: 2, pending: 398 }),
      }),
    );
    const report = await describeExecution(client, EXECUTION, new Date(START.getTime() + 60_000));
    expect(sfn.commandCalls(ListMapRunsCommand)).toHaveLength(2);
    expect(report.mapRuns.map((r) => r.mapRunArn)).toEqual([MAP_RUN, second]);
    expect(report.items).toMatchObject({ total: 1500, succeeded: 700, failed: 2, running: 40, pending: 758 });
    expect(report.durationMs).toBe(60_000);
  });

  it("given a job, shows its most recent execution", async () => {
    sfn.on(ListExecutionsCommand, { stateMachineArn: MACHINE, maxResults: 1 }).resolves({
      $metadata: meta,
      executions: [
        {
          executionArn: EXECUTION,
          stateMachineArn: MACHINE,
          name: "run-2026-11-22T15",
          status: "RUNNING",
          startDate: START,
        },
      ],
      nextToken: "AAAAKgAAAAIAAAAAAAAAAg",
    });
    sfn.on(DescribeExecutionCommand, { executionArn: EXECUTION }).resolves(execution({ status: "RUNNING" }));
    sfn.on(ListMapRunsCommand).resolves({ $metadata: meta, mapRuns: [] });
    const printed: string[] = [];
    await etlStatusOnAws(
      "wordcount",
      { format: "json" },
      { client, env: { OBSERVATORY_WORDCOUNT_STATE_MACHINE_ARN: MACHINE }, out: (t) => printed.push(t) },
    );
    expect(JSON.parse(printed[0]!)).toMatchObject({
      executionArn: EXECUTION,
      status: "RUNNING",
      mapRuns: [],
    });

    sfn.on(ListExecutionsCommand).resolves({ $metadata: meta, executions: [] });
    await expect(etlStatusOnAws(MACHINE, {}, { client, out: () => {} })).rejects.toThrow(
      /has no executions yet/,
    );
  });

  it("given a job it cannot find on AWS, points at the local runs (etl status has no --local)", async () => {
    const error = await etlStatusOnAws("wordcount", {}, { client, env: {}, out: () => {} }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(
      /--state-machine-arn.*OBSERVATORY_WORDCOUNT_STATE_MACHINE_ARN.*or see local runs with: observatory etl runs wordcount --local$/,
    );
    expect(error?.message).not.toMatch(/run it here with --local/);
    expect(sfn.calls()).toHaveLength(0);
  });

  it("refuses a non-execution ARN and explains a missing execution", async () => {
    await expect(describeExecution(client, MACHINE)).rejects.toThrow(/not an execution ARN/);
    sfn.on(DescribeExecutionCommand).rejects(
      new ExecutionDoesNotExist({
        message: `Execution Does Not Exist: '${EXECUTION}'`,
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await expect(describeExecution(client, EXECUTION)).rejects.toThrow(
      /no such execution .*check the ARN: its region and account are where it is looked up/,
    );
  });

  it("says when Step Functions cannot be reached", async () => {
    sfn
      .on(DescribeExecutionCommand)
      .rejects(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:443"), { code: "ECONNREFUSED" }));
    await expect(describeExecution(client, EXECUTION)).rejects.toThrow(
      /could not reach Step Functions \(ECONNREFUSED.*check the network and the region \(the ARN.s, --region or AWS_REGION\)/,
    );
  });

  it("surfaces throttling clearly", async () => {
    sfn.on(DescribeExecutionCommand).rejects(throttling());
    const error = await describeExecution(client, EXECUTION).catch((e) => e);
    expect(error).toBeInstanceOf(EtlAwsError);
    expect(error.throttled).toBe(true);
    expect(error.message).toMatch(
      /Step Functions throttled describing .*ThrottlingException: Rate exceeded.*run the command again/,
    );
  });
});

describe("etl start", () => {
  it("starts the job's machine with the planner's input and prints the execution ARN", async () => {
    sfn.on(StartExecutionCommand).resolves({ $metadata: meta, executionArn: EXECUTION, startDate: START });
    const printed: string[] = [];
    const code = await etlStartOnAws(
      "wordcount",
      { input: '{"since":"2026-11-22T14:00:00Z"}', name: "run-2026-11-22T15", format: "json" },
      { client, env: { OBSERVATORY_WORDCOUNT_STATE_MACHINE_ARN: MACHINE }, out: (t) => printed.push(t) },
    );
    expect(code).toBe(0);
    // No --run-id: the definition takes the execution name as the run id.
    expect(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input).toEqual({
      stateMachineArn: MACHINE,
      input: '{"input":{"since":"2026-11-22T14:00:00Z"}}',
      name: "run-2026-11-22T15",
    });
    expect(JSON.parse(printed[0]!)).toEqual({ execution_arn: EXECUTION, started: START.toISOString() });
  });

  it("names an execution after its start time (sortable run ids), unique per start", async () => {
    sfn.on(StartExecutionCommand).resolves({ $metadata: meta, executionArn: EXECUTION, startDate: START });
    await etlStartOnAws(MACHINE, {}, { client, out: () => {} });
    await etlStartOnAws(MACHINE, {}, { client, out: () => {} });
    const [first, second] = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(first!.input).toBe('{"input":{}}');
    expect(first!.name).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-[0-9a-f]{8}$/);
    expect(second!.name).not.toBe(first!.name);
    expect(newExecutionName(new Date("2026-11-22T15:04:05.678Z"))).toMatch(
      /^2026-11-22T15-04-05Z-[0-9a-f]{8}$/,
    );
  });

  it("refuses input that is not JSON before calling AWS", async () => {
    await expect(etlStartOnAws(MACHINE, { input: "{since:" }, { client, out: () => {} })).rejects.toThrow(
      /--input is not JSON/,
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it("--wait polls until the run ends, shows progress and exits non-zero on failure", async () => {
    sfn.on(StartExecutionCommand).resolves({ $metadata: meta, executionArn: EXECUTION, startDate: START });
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce(execution({ status: "RUNNING" }))
      .resolvesOnce(execution({ status: "RUNNING" }))
      .resolves(
        execution({
          status: "FAILED",
          stopDate: STOP,
          error: "WordCountError",
          cause: "finalizer could not write results",
        }),
      );
    sfn.on(ListMapRunsCommand).resolves({
      $metadata: meta,
      mapRuns: [{ executionArn: EXECUTION, mapRunArn: MAP_RUN, stateMachineArn: MACHINE, startDate: START }],
    });
    sfn
      .on(DescribeMapRunCommand)
      .resolvesOnce(mapRun({ itemCounts: itemCounts({ total: 1000, running: 40, pending: 960 }) }))
      .resolvesOnce(
        mapRun({
          itemCounts: itemCounts({ total: 1000, succeeded: 500, failed: 1, running: 40, pending: 459 }),
        }),
      )
      .resolves(
        mapRun({
          status: "SUCCEEDED",
          stopDate: STOP,
          itemCounts: itemCounts({ total: 1000, succeeded: 999, failed: 1 }),
        }),
      );
    const err = new PassThrough();
    const progress: string[] = [];
    err.on("data", (d) => progress.push(String(d)));
    const printed: string[] = [];
    const code = await etlStartOnAws(
      MACHINE,
      { wait: true, format: "table" },
      { client, out: (t) => printed.push(t), err, sleep: noSleep },
    );
    expect(code).toBe(1);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(3);
    expect(progress.join("")).toBe(
      `started ${EXECUTION}\nRUNNING items 0/1000 (failed 0)\nRUNNING items 501/1000 (failed 1)\nFAILED items 1000/1000 (failed 1)\n`,
    );
    // A field | value block, as narrow as its values.
    expect(printed[0]).toMatch(/^status +\| FAILED$/m);
    expect(printed[0]).toMatch(/^error +\| WordCountError$/m);
    expect(printed[0]).toMatch(/^cause +\| finalizer could not write results/m);
    expect(printed[0]).toMatch(/^failed +\| 1$/m);
  });

  it("status --wait follows an execution already running until it succeeds", async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce(execution({ status: "RUNNING" }))
      .resolves(execution({ status: "SUCCEEDED", stopDate: STOP }));
    sfn.on(ListMapRunsCommand).resolves({ $metadata: meta, mapRuns: [] });
    const err = new PassThrough();
    const notes: string[] = [];
    err.on("data", (d) => notes.push(String(d)));
    const printed: string[] = [];
    const code = await etlStatusOnAws(
      EXECUTION,
      { wait: true, format: "json" },
      { client, out: (t) => printed.push(t), err, sleep: noSleep },
    );
    expect(code).toBe(0);
    expect(notes.join("")).toBe("RUNNING items 0/0 (failed 0)\nSUCCEEDED items 0/0 (failed 0)\n");
    expect(JSON.parse(printed[0]!)).toMatchObject({ status: "SUCCEEDED", durationMs: 200_500 });
  });

  it("Ctrl-C stops waiting, not the run, and says how to follow it", async () => {
    sfn.on(StartExecutionCommand).resolves({ $metadata: meta, executionArn: EXECUTION, startDate: START });
    sfn.on(DescribeExecutionCommand).resolves(execution({ status: "RUNNING" }));
    sfn.on(ListMapRunsCommand).resolves({ $metadata: meta, mapRuns: [] });
    const interrupt = new AbortController();
    const err = new PassThrough();
    const notes: string[] = [];
    err.on("data", (d) => notes.push(String(d)));
    const code = await etlStartOnAws(
      MACHINE,
      { wait: true },
      { client, out: () => {}, err, signal: interrupt.signal, sleep: async () => interrupt.abort() },
    );
    expect(code).toBe(INTERRUPTED_EXIT_CODE);
    expect(notes.join("")).toContain(`the execution keeps running: observatory etl status ${EXECUTION}`);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(1);

    // Without an injected sleep, an abort ends the real poll interval at once (a 10-minute one here).
    const later = new AbortController();
    const waiting = waitForExecution(client, EXECUTION, {
      pollIntervalMs: 600_000,
      signal: later.signal,
      onProgress: () => later.abort(),
    });
    await expect(waiting).rejects.toBeInstanceOf(WaitStopped);
  });

  it("--wait rides out a burst of throttling but gives up on persistent throttling", async () => {
    sfn.on(ListMapRunsCommand).resolves({ $metadata: meta, mapRuns: [] });
    sfn
      .on(DescribeExecutionCommand)
      .rejectsOnce(throttling())
      .rejectsOnce(throttling())
      .resolves(execution({ status: "SUCCEEDED", stopDate: STOP }));
    const slept: number[] = [];
    const done = await waitForExecution(client, EXECUTION, {
      pollIntervalMs: 1000,
      sleep: async (ms) => void slept.push(ms),
    });
    expect(done.status).toBe("SUCCEEDED");
    expect(slept).toEqual([2000, 4000]);

    sfn.reset();
    sfn.on(DescribeExecutionCommand).rejects(throttling());
    await expect(waitForExecution(client, EXECUTION, { sleep: noSleep })).rejects.toThrow(/throttled/);
    expect(sfn.commandCalls(DescribeExecutionCommand)).toHaveLength(MAX_CONSECUTIVE_THROTTLES);
  });
});
