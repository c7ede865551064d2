/**
 * `observatory dev` (`npm start`): the local stack in the foreground until Ctrl-C.
 * Extensions (H7's compaction schedule, H5's log consumer) add their options and a LocalStackExtra
 * through DEV_EXTENSIONS below, so this command keeps one place where the stack is assembled.
 */
import type { Command, Option } from "commander";
import {
  LOCAL_API_KEY,
  LOCAL_COLLECTOR_PORT,
  LOCAL_DATA_DIR,
  LOCAL_DYNAMODB_PORT,
  LOCAL_S3_PORT,
} from "../../contracts/local-stack.js";
import { checkWorkerCount, DEFAULT_COLLECTOR_WORKERS } from "../../local/collector-workers.js";
import { logsDevExtension } from "../../local/log-dev-extension.js";
import { type LocalStack, type LocalStackExtra, startLocalStack } from "../../local/stack.js";
import { STACK_FILE_NAME } from "../../local/stack-file.js";
import { listenForStop } from "../../local/stop-signals.js";
import { compactionDevExtension } from "./dev-compaction.js";

/** One optional piece of the local stack, switched on by its own CLI options. */
export interface DevExtension {
  options: Option[];
  /** The extra to start for these parsed options, or undefined when not asked for. */
  extra(options: Record<string, unknown>): LocalStackExtra | undefined;
}

/** Append an entry (one import + one line) to add a piece to `observatory dev`. */
export const DEV_EXTENSIONS: DevExtension[] = [logsDevExtension, compactionDevExtension];

export interface DevOptions {
  dataDir: string;
  apiKey: string;
  port: number;
  s3Port: number;
  dynamodbPort: number;
  quiet?: boolean;
  /** A JSON file: array of EventSchema (default OBSERVATORY_EVENT_SCHEMAS, else the demo's). */
  schemas?: string;
  /** Collector worker processes (0: the collector in this process). */
  workers?: number;
}

function portNumber(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`not a port number: ${value}`);
  return port;
}

function workersNote(stack: LocalStack): string {
  const pids = stack.collector.workerPids();
  if (pids.length === 0) return "";
  return pids.length === 1
    ? `  1 worker (pid ${pids[0]})`
    : `  ${pids.length} workers (pids ${pids.join(", ")})`;
}

/** What `observatory dev` prints once everything listens (`quiet`: the endpoints alone). */
export function describeStack(stack: LocalStack, options: { quiet?: boolean } = {}): string {
  const endpoints = [
    `  collector  ${stack.collector.url}/v1/batch   (health: ${stack.collector.url}/v1/health)${workersNote(stack)}`,
    `  S3         ${stack.s3.endpoint}   bucket ${stack.bucket}`,
    `  DynamoDB   ${stack.dynamodb.endpoint}`,
    `  API key    ${stack.apiKey}`,
    `  data       ${stack.dataDir}`,
  ];
  if (options.quiet) return endpoints.join("\n");
  // Other commands find the stack through the data directory's stack.json: by default when it is
  // the default one, with --data-dir otherwise.
  const dataDirFlag = stack.dataDir === LOCAL_DATA_DIR ? "" : ` --data-dir ${stack.dataDir}`;
  const lines = [
    "Observatory local stack is running.",
    "",
    ...endpoints,
    `  schemas    ${stack.schemas.schemas.map((s) => s.event).join(", ") || "(none)"}  from ${stack.schemas.source}`,
    ...stack.extras.flatMap(({ name, handle }) =>
      (handle.describe ?? []).map((line) => `  ${name.padEnd(10)} ${line}`),
    ),
    "",
    "Send an event:",
    `  curl -s -X POST ${stack.collector.url}/v1/batch -H 'content-type: application/json' -H 'x-api-key: ${stack.apiKey}' \\`,
    `    -d '{"batch":[{"event":"search_made","user_id":"u1","properties":{"query":"cats","n_results":3}}]}'`,
    "",
    `Then \`observatory demo${dataDirFlag}\` for realistic traffic. Ctrl-C stops everything.`,
    dataDirFlag
      ? `demo, trace, query, cost and etl --local find this stack with${dataDirFlag} (its ${STACK_FILE_NAME}).`
      : `demo, trace, query, cost and etl --local find this stack through ${stack.dataDir}/${STACK_FILE_NAME}.`,
  ];
  return lines.join("\n");
}

/** Starts the stack and resolves when it has been stopped (SIGINT, SIGTERM, SIGHUP or closed output: local/stop-signals.ts). */
export async function runDev(options: DevOptions, extras: LocalStackExtra[] = []): Promise<void> {
  // Listening before anything starts: a Ctrl-C during startup stops the stack once it is up,
  // rather than killing the process between writing stack.json and being able to remove it.
  const stopping = listenForStop();
  const stack = await startLocalStack({
    dataDir: options.dataDir,
    apiKey: options.apiKey,
    collectorPort: options.port,
    s3Port: options.s3Port,
    dynamoPort: options.dynamodbPort,
    quiet: options.quiet,
    schemasFile: options.schemas,
    workers: options.workers,
    extras,
  }).catch((error) => {
    stopping.dispose();
    throw error;
  });
  console.log(describeStack(stack, { quiet: options.quiet }));
  // A stack that can no longer serve (its collector workers crash-looped to none) stops rather than
  // pretend: stack.json goes, and the command fails.
  const outcome = await Promise.race([
    stopping.reason.then((reason) => ({ reason })),
    stack.failed.then((failure) => ({ failure })),
  ]);
  if ("failure" in outcome)
    console.error("\nobservatory dev: no collector worker left; stopping the local stack...");
  else if (!options.quiet) console.log(`\n${outcome.reason}: stopping the local stack...`);
  await stack.close().catch((error) => {
    console.error(`observatory dev: error while stopping: ${(error as Error).message}`);
  });
  stopping.dispose();
  if ("failure" in outcome) throw new Error(`${outcome.failure.message}; the local stack has stopped`);
  if (!options.quiet) console.log("stopped.");
}

export function registerDevCommand(program: Command): void {
  const command = program
    .command("dev")
    .description(
      "run the whole pipeline on this machine: local S3, DynamoDB and the collector (Ctrl-C stops)",
    )
    .option("--data-dir <dir>", "where S3 objects and DynamoDB tables persist", LOCAL_DATA_DIR)
    .option("--api-key <key>", "the x-api-key the collector accepts", LOCAL_API_KEY)
    .option("--port <port>", "collector port (0 = any free port)", portNumber, LOCAL_COLLECTOR_PORT)
    .option("--s3-port <port>", "S3 port (0 = any free port)", portNumber, LOCAL_S3_PORT)
    .option("--dynamodb-port <port>", "DynamoDB port (0 = any free port)", portNumber, LOCAL_DYNAMODB_PORT)
    .option(
      "--schemas <file.json>",
      "declared event schemas (JSON array of EventSchema) for the collector and compaction; default OBSERVATORY_EVENT_SCHEMAS, else the demo's",
    )
    .option(
      "--workers <n>",
      `collector worker processes behind the collector port, for high event rates on a multi-core machine (0 = the collector in this process; see docs/local-stack.md)`,
      (value: string) => checkWorkerCount(value),
      DEFAULT_COLLECTOR_WORKERS,
    )
    .option("--quiet", "print only the endpoints");
  for (const extension of DEV_EXTENSIONS) for (const option of extension.options) command.addOption(option);
  command.action(async (options: DevOptions & Record<string, unknown>) => {
    const extras = DEV_EXTENSIONS.map((extension) => extension.extra(options)).filter(
      (e): e is LocalStackExtra => e !== undefined,
    );
    await runDev(options, extras);
  });
}
