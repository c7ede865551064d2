/**
 * Runs an ASL definition on this machine with aws-local-stepfunctions: every Task state is bound by
 * its Resource ARN to a local function (Lambda handlers, service integrations), Distributed Map
 * states are run by the adapter (distributed-map.ts), and an unbound resource or an unknown field is
 * an error before anything runs.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { MapState, State, StateMachineDefinition, TaskState } from "../../etl/asl.js";
import {
  checkDistributedMap,
  type MapProgress,
  runDistributedMap,
  WRAPPER_FIELDS,
} from "./distributed-map.js";
import { announcePromisePolyfill, StateMachine } from "./state-machine.js";

/** A local stand-in for a Task Resource: takes the state's effective input, returns its result. */
export type LocalResource = (input: unknown) => Promise<unknown>;

/** Marks the Task that stands in for a Distributed Map; bound by state name, never invoked remotely. */
const ADAPTER_RESOURCE = "arn:aws:states:::observatory:local-distributed-map";
/**
 * The library defaults a Task to 60 s; a Map state has no timeout of its own, so its stand-in gets the
 * longest timer Node allows (setTimeout clamps anything over 2^31-1 ms to 1 ms).
 */
const NO_TIMEOUT_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export interface LocalRunOptions {
  definition: StateMachineDefinition;
  input: unknown;
  stateMachineArn: string;
  executionName: string;
  /** Task Resource ARN -> local function. */
  resources: Record<string, LocalResource>;
  /** S3 for Distributed Map ItemReader/ResultWriter. */
  s3: S3Client;
  /** Per state name, milliseconds between retries (the library's override; tests use 0). */
  retryIntervalOverrides?: Record<string, number | number[]>;
  onMapProgress?: (progress: MapProgress) => void;
}

export type LocalRunResult =
  | { status: "SUCCEEDED"; output: unknown; executionArn: string }
  | { status: "FAILED"; error: string; cause: string; executionArn: string };

type Overrides = Record<string, (input: unknown) => Promise<unknown>>;

interface Prepared {
  definition: StateMachineDefinition;
  overrides: Overrides;
}

function bind(overrides: Overrides, stateName: string, fn: (input: unknown) => Promise<unknown>): void {
  // The library binds overrides by state name across nested machines: names must be unique.
  if (overrides[stateName])
    throw new Error(
      `local runner: Task state name ${JSON.stringify(stateName)} is used twice; names must be unique`,
    );
  overrides[stateName] = fn;
}

/** Step Functions' limit on a state's input or output (256 KiB of UTF-8 JSON). */
export const MAX_STATE_PAYLOAD_BYTES = 256 * 1024;

/**
 * What Step Functions raises for an over-limit payload: a terminal error that neither Retry nor
 * Catch (not even States.ALL) handles; the library reads these two flags.
 */
class DataLimitExceeded extends Error {
  override readonly name = "States.DataLimitExceeded";
  readonly isRetryable = false;
  readonly isCatchable = false;
}

function checkedJson(value: unknown, what: string): string {
  const text = JSON.stringify(value ?? null);
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_STATE_PAYLOAD_BYTES) {
    throw new DataLimitExceeded(
      `${what} is ${bytes} bytes, over the ${MAX_STATE_PAYLOAD_BYTES}-byte state payload limit`,
    );
  }
  return text;
}

/** JSON in, JSON out, like a Lambda invocation: a handler can't leak live objects into the state. */
function asLambda(fn: LocalResource): LocalResource {
  return async (input) => {
    const result = await fn(JSON.parse(checkedJson(input, "the task's input")));
    return JSON.parse(checkedJson(result === undefined ? null : result, "the task's result"));
  };
}

export function prepareDefinition(
  definition: StateMachineDefinition,
  o: Omit<LocalRunOptions, "definition" | "input" | "executionName"> & { context: Record<string, unknown> },
  overrides: Overrides = {},
): Prepared {
  const states: Record<string, State> = {};
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === "Task") {
      const fn = o.resources[state.Resource];
      if (!fn)
        throw new Error(
          `local runner: no local binding for Task ${JSON.stringify(name)} resource ${state.Resource}`,
        );
      bind(overrides, name, asLambda(fn));
      states[name] = state;
    } else if (state.Type === "Map" && state.ItemProcessor.ProcessorConfig.Mode === "DISTRIBUTED") {
      checkDistributedMap(name, state);
      const { ProcessorConfig: _config, ...processor } = state.ItemProcessor;
      const child = prepareDefinition(processor as StateMachineDefinition, o, overrides).definition;
      const wrapper: TaskState = {
        Type: "Task",
        Resource: ADAPTER_RESOURCE,
        TimeoutSeconds: NO_TIMEOUT_SECONDS,
      };
      for (const field of WRAPPER_FIELDS)
        if (field in state)
          (wrapper as unknown as Record<string, unknown>)[field] = (
            state as unknown as Record<string, unknown>
          )[field];
      if (state.Comment) wrapper.Comment = state.Comment;
      bind(overrides, name, (input) =>
        runDistributedMap(name, state, child, input, {
          s3: o.s3,
          stateMachineArn: o.stateMachineArn,
          context: o.context,
          onProgress: o.onMapProgress,
          runChild: (childDefinition, childInput, childContext) =>
            runMachine(childDefinition, childInput, childContext, overrides, o.retryIntervalOverrides),
        }),
      );
      states[name] = wrapper;
    } else if (state.Type === "Map") {
      // Inline Map: the library runs it (ItemsPath, ItemSelector, MaxConcurrency); bind its Tasks.
      const { ProcessorConfig: _config, ...processor } = state.ItemProcessor;
      const child = prepareDefinition(processor as StateMachineDefinition, o, overrides).definition;
      states[name] = {
        ...state,
        ItemProcessor: { ...child, ProcessorConfig: { Mode: "INLINE" } },
      } as MapState;
    } else {
      states[name] = state;
    }
  }
  return { definition: { ...definition, States: states }, overrides };
}

const machines = new WeakMap<StateMachineDefinition, StateMachine>();

async function runMachine(
  definition: StateMachineDefinition,
  input: unknown,
  context: Record<string, unknown>,
  overrides: Overrides,
  retryIntervalOverrides?: Record<string, number | number[]>,
): Promise<unknown> {
  let machine = machines.get(definition);
  if (!machine) {
    // Executions are independent (the library supports concurrent run() calls): one machine per definition.
    machine = new StateMachine(definition as never, {
      validationOptions: { checkArn: false, noValidate: true },
    });
    machines.set(definition, machine);
  }
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: overrides as never, retryIntervalOverrides },
    context: context as never,
  });
  return execution.result;
}

/**
 * `$$.State.EnteredTime` is read when a state's Parameters are evaluated, i.e. as the state is
 * entered; the library doesn't fill `$$.State`, so the context carries a getter with the current time.
 */
function liveStateContext(): Record<string, unknown> {
  return {
    get EnteredTime() {
      return new Date().toISOString();
    },
  };
}

/** Definitions (as JSON) the library has validated in this process: validation compiles schemas, ~1 s. */
const validated = new Set<string>();

/** Validates the top level as the library does by default (paths, reachability, fields), once per definition. */
function validateOnce(definition: StateMachineDefinition): void {
  const key = JSON.stringify(definition);
  if (validated.has(key)) return;
  new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  validated.add(key);
}

export async function runLocalExecution(o: LocalRunOptions): Promise<LocalRunResult> {
  announcePromisePolyfill();
  const [, , , region, account, , smName] = o.stateMachineArn.split(":");
  const executionArn = `arn:aws:states:${region}:${account}:execution:${smName}:${o.executionName}`;
  const context = {
    Execution: { Id: executionArn, Name: o.executionName, RoleArn: `arn:aws:iam::${account}:role/local` },
    StateMachine: { Id: o.stateMachineArn, Name: smName },
    State: liveStateContext(),
  };
  const prepared = prepareDefinition(o.definition, { ...o, context });
  validateOnce(prepared.definition);
  try {
    const output = await runMachine(
      prepared.definition,
      o.input,
      context,
      prepared.overrides,
      o.retryIntervalOverrides,
    );
    return { status: "SUCCEEDED", output, executionArn };
  } catch (error) {
    if ((error as Error).name === "ExecutionTimeoutError") {
      // The definition's TimeoutSeconds elapsed: Step Functions reports States.Timeout (no Catch runs).
      return { status: "FAILED", error: "States.Timeout", cause: (error as Error).message, executionArn };
    }
    const cause = ((error as { cause?: unknown }).cause ?? error) as { name?: string; message?: string };
    return {
      status: "FAILED",
      error: cause.name ?? "Error",
      cause: cause.message ?? String(cause),
      executionArn,
    };
  }
}
