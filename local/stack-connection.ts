/**
 * How every command that talks to the local stack finds it (demo, trace, query, cost, etl --local),
 * one way for all of them:
 *   1. an explicit option (--endpoint, --s3-endpoint, --dynamodb-endpoint): used, or a clear error;
 *   2. the discovery file of --data-dir (`<dataDir>/stack.json`, written by `observatory dev`);
 *   3. the default ports of contracts/local-stack.ts - only when no --data-dir was given: naming a
 *      data directory means that data, not whatever stack holds the default ports;
 *   4. nothing runs: S3 and DynamoDB are started for this command only, on free ports, over the
 *      data directory (so the same data is read and written offline).
 */
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { type Command, Option } from "commander";
import {
  LOCAL_BUCKET,
  LOCAL_COLLECTOR_PORT,
  LOCAL_DATA_DIR,
  LOCAL_DYNAMODB_PORT,
  LOCAL_S3_PORT,
} from "../contracts/local-stack.js";
import { localDynamoDBClient, startLocalDynamoDB } from "./dynamodb-server.js";
import { localS3Client, startLocalS3 } from "./s3-server.js";
import { readStackFile, STACK_FILE_NAME, type StackFile, staleStackFileNote } from "./stack-file.js";

/** A refused connection answers at once; anything slower than this is not a local server we can use. */
const PROBE_TIMEOUT_MS = 500;
/** How long a collector has to answer /v1/health. */
const HEALTH_TIMEOUT_MS = 1_000;

/** The options every local-stack command takes (CLI names: --data-dir, --endpoint, --s3-endpoint, --dynamodb-endpoint). */
export interface LocalStackTargetOptions {
  dataDir?: string;
  /** The collector's base URL. */
  endpoint?: string;
  s3Endpoint?: string;
  dynamodbEndpoint?: string;
}

type Peer = "collector" | "s3" | "dynamodb";

const OPTION_OF: Record<Peer, string> = {
  collector: "--endpoint",
  s3: "--s3-endpoint",
  dynamodb: "--dynamodb-endpoint",
};
const DEFAULT_PORT_OF: Record<Peer, number> = {
  collector: LOCAL_COLLECTOR_PORT,
  s3: LOCAL_S3_PORT,
  dynamodb: LOCAL_DYNAMODB_PORT,
};

export interface Candidate {
  endpoint: string;
  /** Why this endpoint: for the notes a command prints. */
  from: "option" | "stack file" | "default port";
}

/** Where to look for one peer, in order (no probing yet). */
export function candidatesFor(peer: Peer, options: LocalStackTargetOptions): Candidate[] {
  const explicit = {
    collector: options.endpoint,
    s3: options.s3Endpoint,
    dynamodb: options.dynamodbEndpoint,
  }[peer];
  if (explicit) return [{ endpoint: explicit.replace(/\/+$/, ""), from: "option" }];
  const file = stackFileOf(options);
  const candidates: Candidate[] = file ? [{ endpoint: file[peer], from: "stack file" }] : [];
  const fallback = `http://127.0.0.1:${DEFAULT_PORT_OF[peer]}`;
  if (options.dataDir === undefined && !candidates.some((c) => c.endpoint === fallback))
    candidates.push({ endpoint: fallback, from: "default port" });
  return candidates;
}

export function dataDirOf(options: LocalStackTargetOptions): string {
  return options.dataDir ?? LOCAL_DATA_DIR;
}

/** The running stack's discovery file in the data directory, if any. */
export function stackFileOf(options: LocalStackTargetOptions): StackFile | undefined {
  return readStackFile(dataDirOf(options));
}

function describe(candidate: Candidate, options: LocalStackTargetOptions): string {
  if (candidate.from === "option") return `${candidate.endpoint} (given)`;
  if (candidate.from === "stack file")
    return `${candidate.endpoint} (from ${join(dataDirOf(options), STACK_FILE_NAME)})`;
  return `${candidate.endpoint} (default port)`;
}

/** True when something accepts TCP connections at the URL's host and port. */
export function endpointAnswers(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const { hostname, port, protocol } = new URL(url);
  return new Promise((resolve) => {
    const socket = createConnection({
      host: hostname,
      port: Number(port || (protocol === "https:" ? 443 : 80)),
    });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** True when an Observatory collector answers /v1/health at `endpoint`. */
export async function collectorAnswers(endpoint: string): Promise<boolean> {
  // Node 20's fetch never settles when a server closes a new connection unanswered (a stack whose
  // collector workers are all gone): only the abort ends it, and AbortSignal.timeout's timer is unref'd.
  // This ref'd timer keeps the process alive until then, or a command would exit silently with 13.
  const holdOpen = setTimeout(() => {}, HEALTH_TIMEOUT_MS + 1_000);
  try {
    const response = await fetch(`${endpoint}/v1/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    const body = (await response.json().catch(() => undefined)) as { status?: unknown } | undefined;
    return response.ok && body?.status === "ok";
  } catch {
    return false;
  } finally {
    clearTimeout(holdOpen);
  }
}

/** The first candidate that answers, or undefined; an explicit one that does not answer is an error. */
async function firstAnswering(
  peer: Peer,
  options: LocalStackTargetOptions,
  answers: (endpoint: string) => Promise<boolean>,
): Promise<Candidate | undefined> {
  for (const candidate of candidatesFor(peer, options)) {
    if (await answers(candidate.endpoint)) return candidate;
    if (candidate.from === "option") {
      throw new Error(
        `nothing answers at ${candidate.endpoint} (${OPTION_OF[peer]}): start the local stack with \`observatory dev\`, or leave the option out to read ${dataDirOf(options)} offline`,
      );
    }
  }
  return undefined;
}

export interface RunningCollector {
  endpoint: string;
  /** The key of the stack file, when the collector was found through it. */
  apiKey?: string;
  note: string;
}

/**
 * The collector of a running stack, or undefined (with notes on what answered but was no collector).
 * An explicit --endpoint that is no collector is an error.
 */
export async function findRunningCollector(
  options: LocalStackTargetOptions,
  notes: string[] = [],
): Promise<RunningCollector | undefined> {
  for (const candidate of candidatesFor("collector", options)) {
    if (await collectorAnswers(candidate.endpoint)) {
      return {
        endpoint: candidate.endpoint,
        apiKey: candidate.from === "stack file" ? stackFileOf(options)?.apiKey : undefined,
        note: `collector: the running local stack at ${describe(candidate, options)}`,
      };
    }
    const what = (await endpointAnswers(candidate.endpoint))
      ? "something answers there, but not an Observatory collector (GET /v1/health)"
      : "nothing answers there";
    if (candidate.from === "option")
      throw new Error(`no collector at ${candidate.endpoint} (--endpoint): ${what}`);
    notes.push(`no collector at ${describe(candidate, options)}: ${what}`);
  }
  const stale = staleStackFileNote(dataDirOf(options));
  if (stale) notes.push(stale);
  return undefined;
}

export interface OpenedPeer<Client> {
  client: Client;
  endpoint: string;
  /** False when this command started the server (nothing was running). */
  running: boolean;
  note: string;
  close(): Promise<void>;
}

/**
 * S3 of the running local stack, or an s3rver over `<dataDir>/s3` for this command. `readOnly`
 * commands (query, cost, trace) refuse a --data-dir that does not exist: a mistyped path would
 * otherwise be created empty and answer "0 rows" as if that were the data.
 */
export function openLocalS3(
  options: LocalStackTargetOptions,
  { readOnly = false }: { readOnly?: boolean } = {},
): Promise<OpenedPeer<S3Client>> {
  return openPeer("s3", "S3", options, localS3Client, (directory) => {
    if (readOnly && options.dataDir !== undefined && !existsSync(options.dataDir)) {
      throw new Error(
        `no data directory at ${options.dataDir}: nothing to read (check the path, or start \`observatory dev --data-dir ${options.dataDir}\`)`,
      );
    }
    // Port 0: this s3rver only serves this process; the data directory is what `observatory dev` uses.
    return startLocalS3({ directory, port: 0, bucket: LOCAL_BUCKET });
  });
}

/** DynamoDB of the running local stack, or a dynalite over `<dataDir>/dynamodb` for this command. */
export function openLocalDynamoDB(options: LocalStackTargetOptions): Promise<OpenedPeer<DynamoDBClient>> {
  return openPeer("dynamodb", "DynamoDB", options, localDynamoDBClient, (directory) =>
    startLocalDynamoDB({ directory, port: 0 }),
  );
}

/** The running stack's peer when one answers, else a server of that kind over `<dataDir>/<kind>`. */
async function openPeer<Client extends { destroy(): void }>(
  kind: "s3" | "dynamodb",
  label: string,
  options: LocalStackTargetOptions,
  clientFor: (endpoint: string) => Client,
  start: (directory: string) => Promise<{ client: Client; endpoint: string; close(): Promise<void> }>,
): Promise<OpenedPeer<Client>> {
  const found = await firstAnswering(kind, options, (e) => endpointAnswers(e));
  if (found) {
    const client = clientFor(found.endpoint);
    return {
      client,
      endpoint: found.endpoint,
      running: true,
      note: `${label}: the running local stack's ${label} at ${describe(found, options)}`,
      close: async () => client.destroy(),
    };
  }
  const directory = join(dataDirOf(options), kind);
  const server = await start(directory);
  // Said once per command: every command that reads the data directory opens its S3.
  const stale = kind === "s3" ? staleStackFileNote(dataDirOf(options)) : undefined;
  return {
    client: server.client,
    endpoint: server.endpoint,
    running: false,
    note: `${label}: no local stack running: read and write ${directory} directly${stale ? `; ${stale}` : ""}`,
    close: () => server.close(),
  };
}

const foundThrough = (port: number) => `default: found through --data-dir, else 127.0.0.1:${port}`;

/** The options of LocalStackTargetOptions, the same names and text on every command. */
export const dataDirOption = () =>
  new Option(
    "--data-dir <dir>",
    `the local stack's data directory: its ${STACK_FILE_NAME} tells where a running \`observatory dev\` listens; read directly when none runs (default: "${LOCAL_DATA_DIR}")`,
  );
export const collectorEndpointOption = () =>
  new Option(
    "--endpoint <url>",
    `collector of a running local stack (${foundThrough(LOCAL_COLLECTOR_PORT)})`,
  );
export const s3EndpointOption = () =>
  new Option("--s3-endpoint <url>", `S3 of a running local stack (${foundThrough(LOCAL_S3_PORT)})`);
export const dynamodbEndpointOption = () =>
  new Option(
    "--dynamodb-endpoint <url>",
    `DynamoDB of a running local stack (${foundThrough(LOCAL_DYNAMODB_PORT)})`,
  );

/** Adds the options of LocalStackTargetOptions to a command. */
export function addLocalStackOptions<C extends Command>(
  command: C,
  peers: { collector?: boolean; dynamodb?: boolean } = {},
): C {
  command.addOption(dataDirOption());
  if (peers.collector) command.addOption(collectorEndpointOption());
  command.addOption(s3EndpointOption());
  if (peers.dynamodb) command.addOption(dynamodbEndpointOption());
  return command;
}
