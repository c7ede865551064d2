/**
 * `observatory dev` as a real child process on free ports (the way a terminal or `npm start` runs
 * it), for tests of what it prints and how it stops.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");
/** Starting dev compiles the CLI through tsx and starts three servers: slow on a busy 2-core machine. */
export const DEV_START_TIMEOUT_MS = 60_000;

export interface DevProcess {
  child: ChildProcessWithoutNullStreams;
  dataDir: string;
  /** The collector's base URL, from the banner. */
  collector: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it printed so far (stdout and stderr). */
  output(): string;
}

/** `observatory dev`'s arguments over `dataDir` with every port 0 and no compaction schedule, then `extraArgs`. */
export function devArgs(dataDir: string, extraArgs: readonly string[] = []): string[] {
  const ports = ["--port", "0", "--s3-port", "0", "--dynamodb-port", "0"];
  return ["dev", "--data-dir", dataDir, ...ports, "--compact-every", "off", ...extraArgs];
}

/**
 * Starts dev with devArgs(), stdout and stderr piped to this process; resolves once the banner names
 * the collector (stack.json is written by then).
 */
export async function startDevProcess(
  dataDir: string,
  extraArgs: readonly string[] = [],
): Promise<DevProcess> {
  const child = spawn(process.execPath, ["bin/observatory.js", ...devArgs(dataDir, extraArgs)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  const collect = (chunk: Buffer) => {
    output += chunk;
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const collector = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev did not start:\n${output}`)), DEV_START_TIMEOUT_MS);
    child.on("exit", () => reject(new Error(`dev exited before it started:\n${output}`)));
    child.stdout.on("data", () => {
      const match = /collector\s+(http:\/\/127\.0\.0\.1:\d+)\/v1\/batch/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  return { child, dataDir, collector, exited, output: () => output };
}
