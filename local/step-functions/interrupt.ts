/**
 * Ctrl-C during a local ETL run. Without this the process dies with the run's ledger row still
 * RUNNING, forever (Step Functions on AWS would show the execution ABORTED). While a run executes,
 * SIGINT/SIGTERM first record it as FAILED with error `Interrupted` - a FAILED run is resumed by
 * starting it again with the same run id - and then the signal takes its normal course.
 */
import { type DynamoDBClient, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { LEDGER_HASH_KEY, LEDGER_RANGE_KEY } from "../../etl/ledger.js";

/** The ledger `error` of a run stopped by a signal. */
export const INTERRUPTED_ERROR = "Interrupted";

/** How long the ledger write may hold up the exit: a user pressing Ctrl-C expects the prompt back
 * within seconds, and a local DynamoDB answers in milliseconds when it answers at all. */
export const INTERRUPT_LEDGER_TIMEOUT_MS = 3000;

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** What the runs in flight in this process record when a signal comes (several runs may overlap). */
const pending = new Set<(signal: NodeJS.Signals) => Promise<void>>();

/**
 * Runs `work`; if SIGINT or SIGTERM arrives meanwhile, awaits `onInterrupt` of every run in flight (at
 * most INTERRUPT_LEDGER_TIMEOUT_MS) and then, unless someone else listens for that signal (e.g.
 * `observatory dev`, which stops its stack), re-raises it so the process ends as it would have.
 * A second Ctrl-C while recording ends the process at once.
 */
export async function whileInterruptible<T>(
  work: () => Promise<T>,
  onInterrupt: (signal: NodeJS.Signals) => Promise<void>,
): Promise<T> {
  if (pending.size === 0)
    // First in line, so the ledger writes start before anyone else's shutdown (e.g. closing dynalite).
    for (const s of SIGNALS) process.prependListener(s, handleSignal);
  pending.add(onInterrupt);
  try {
    return await work();
  } finally {
    pending.delete(onInterrupt);
    if (pending.size === 0) removeSignalListeners();
  }
}

function removeSignalListeners(): void {
  for (const s of SIGNALS) process.removeListener(s, handleSignal);
}

function handleSignal(signal: NodeJS.Signals): void {
  const records = [...pending].map((record) =>
    record(signal).catch((error: unknown) => {
      process.stderr.write(`could not record the interruption: ${(error as Error).message}\n`);
    }),
  );
  pending.clear();
  removeSignalListeners();
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, INTERRUPT_LEDGER_TIMEOUT_MS).unref());
  void Promise.race([Promise.all(records), timeout]).then(() => {
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

/**
 * Marks the run FAILED with error `Interrupted`, only if it is still RUNNING in this execution (a run
 * that finished meanwhile, or a newer execution of the same run id, is left as it is).
 */
export async function markRunInterrupted(
  dynamodb: DynamoDBClient,
  o: { table: string; job: string; runId: string; executionName: string; signal: NodeJS.Signals },
): Promise<boolean> {
  try {
    await dynamodb.send(
      new UpdateItemCommand({
        TableName: o.table,
        Key: { [LEDGER_HASH_KEY]: { S: o.job }, [LEDGER_RANGE_KEY]: { S: o.runId } },
        ConditionExpression: "#status = :running AND contains(execution, :execution)",
        UpdateExpression: "SET #status = :failed, finished_at = :now, #error = :error, cause = :cause",
        ExpressionAttributeNames: { "#status": "status", "#error": "error" },
        ExpressionAttributeValues: {
          ":running": { S: "RUNNING" },
          ":failed": { S: "FAILED" },
          ":execution": { S: o.executionName },
          ":now": { S: new Date().toISOString() },
          ":error": { S: INTERRUPTED_ERROR },
          ":cause": { S: `interrupted by ${o.signal}: resume it with --run-id ${o.runId}` },
        },
      }),
    );
    return true;
  } catch (error) {
    // Not started yet, already finished, or taken over by another execution: nothing to record.
    if ((error as { name?: string }).name === "ConditionalCheckFailedException") return false;
    throw error;
  }
}
