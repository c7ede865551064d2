/**
 * The discovery file a running local stack leaves in its data directory (`<dataDir>/stack.json`):
 * where its collector, S3 and DynamoDB listen, so every other command (demo, trace, query, cost,
 * etl --local) finds a stack on any ports through `--data-dir` alone. Removed when the stack stops,
 * also when its process exits without closing the stack (an uncaught error, `process.exit`); a file
 * left by a process that was killed outright (SIGKILL) is stale: it is ignored, and readers say so.
 */
import { readFileSync, rmSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

export const STACK_FILE_NAME = "stack.json";
/**
 * Linux reports a process's start time in clock ticks of USER_HZ, which the kernel ABI fixes at 100
 * on every architecture Node runs on (sysconf(_SC_CLK_TCK) is not reachable from Node without a child process).
 */
const LINUX_CLOCK_TICKS_PER_SECOND = 100;
/** Start times from /proc are whole ticks and the boot time whole seconds: allow that much rounding. */
const START_TIME_TOLERANCE_MS = 2_000;

export interface StackFile {
  /** The process serving the stack: the file counts only while it lives. */
  pid: number;
  dataDir: string;
  collector: string;
  s3: string;
  dynamodb: string;
  bucket: string;
  /** The key the collector accepts (a local development key, printed by `observatory dev` too). */
  apiKey: string;
  startedAt: string;
}

export function stackFilePath(dataDir: string): string {
  return join(dataDir, STACK_FILE_NAME);
}

/** The 'exit' listener of each file this process wrote, so removeStackFile can take it back. */
const removeOnExit = new Map<string, () => void>();

export async function writeStackFile(stack: Omit<StackFile, "pid" | "startedAt">): Promise<StackFile> {
  const file: StackFile = {
    pid: process.pid,
    ...stack,
    dataDir: resolve(stack.dataDir),
    startedAt: new Date().toISOString(),
  };
  // 0600: it names the collector's key.
  await writeFile(stackFilePath(stack.dataDir), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  // Whatever way this process ends short of a kill it cannot catch, the file goes with it: 'exit'
  // runs on an uncaught error (e.g. EPIPE on a closed stdout) and on process.exit (a forced stop).
  forgetExitListener(file);
  const onExit = () => removeStackFileSync(stack.dataDir, file);
  removeOnExit.set(file.dataDir, onExit);
  process.once("exit", onExit);
  return file;
}

function isStillOurs(dataDir: string, written: StackFile): boolean {
  const current = readStackFileRaw(dataDir);
  return current !== undefined && current.pid === written.pid && current.startedAt === written.startedAt;
}

function forgetExitListener(written: StackFile): void {
  const onExit = removeOnExit.get(written.dataDir);
  if (onExit) process.removeListener("exit", onExit);
  removeOnExit.delete(written.dataDir);
}

/** Removes the file if it is still `written`'s (another stack may have replaced it since). */
export async function removeStackFile(dataDir: string, written: StackFile): Promise<void> {
  forgetExitListener(written);
  if (isStillOurs(dataDir, written)) await rm(stackFilePath(dataDir), { force: true });
}

/** removeStackFile for an 'exit' listener, where nothing asynchronous runs any more. */
export function removeStackFileSync(dataDir: string, written: StackFile): void {
  forgetExitListener(written);
  try {
    if (isStillOurs(dataDir, written)) rmSync(stackFilePath(dataDir), { force: true });
  } catch {
    // The process is ending: a file that cannot be removed is reported as stale by its readers.
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * When the process `pid` started (Linux /proc), or undefined where that cannot be read. A stack file
 * written before its pid's process started names a reused pid (a reboot, or pids wrapping around).
 */
function processStartedAt(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime), counted after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTicks = Number(fields[19]);
    const bootLine = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    if (!bootLine || !Number.isFinite(startTicks)) return undefined;
    return Number(bootLine[1]) * 1000 + (startTicks / LINUX_CLOCK_TICKS_PER_SECOND) * 1000;
  } catch {
    return undefined;
  }
}

function readStackFileRaw(dataDir: string): StackFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(stackFilePath(dataDir), "utf8")) as Partial<StackFile>;
    if (
      typeof parsed.pid !== "number" ||
      typeof parsed.s3 !== "string" ||
      typeof parsed.dynamodb !== "string" ||
      typeof parsed.collector !== "string"
    )
      return undefined;
    return parsed as StackFile;
  } catch {
    return undefined;
  }
}

/** Why the stack file's process is not the one that wrote it, or undefined when it is. */
function whyStale(file: StackFile): string | undefined {
  if (!processAlive(file.pid)) return `its process ${file.pid} is not running`;
  const written = Date.parse(file.startedAt);
  const started = processStartedAt(file.pid);
  if (started !== undefined && Number.isFinite(written) && started > written + START_TIME_TOLERANCE_MS)
    return `pid ${file.pid} is now another process, started after the file was written`;
  return undefined;
}

export type StackFileState =
  | { state: "running"; file: StackFile }
  | { state: "stale"; file: StackFile; reason: string }
  | { state: "absent" };

/** What `<dataDir>/stack.json` says: a running stack, a stale file, or nothing (missing or unreadable). */
export function inspectStackFile(dataDir: string): StackFileState {
  const file = readStackFileRaw(dataDir);
  if (!file) return { state: "absent" };
  const reason = whyStale(file);
  return reason ? { state: "stale", file, reason } : { state: "running", file };
}

/** The stack file of `dataDir`, when there is one and its process still runs. */
export function readStackFile(dataDir: string): StackFile | undefined {
  const inspected = inspectStackFile(dataDir);
  return inspected.state === "running" ? inspected.file : undefined;
}

/**
 * One line for the notes of a command that found no running stack, when a stale file is the reason
 * there is none to find: the stack was stopped in a way that left it (or killed), and is not used.
 */
export function staleStackFileNote(dataDir: string): string | undefined {
  const inspected = inspectStackFile(dataDir);
  if (inspected.state !== "stale") return undefined;
  return `${stackFilePath(dataDir)} is stale (${inspected.reason}; written ${inspected.file.startedAt}): ignored until the next \`observatory dev\` replaces it`;
}
