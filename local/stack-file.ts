/**
 * The discovery file a running local stack leaves in its data directory (`<dataDir>/stack.json`):
 * where its collector, S3 and DynamoDB listen, so every other command (demo, trace, query, cost,
 * etl --local) finds a stack on any ports through `--data-dir` alone. Removed when the stack stops,
 * and however its process ends without closing the stack (an uncaught error, `process.exit`, a
 * SIGINT/SIGTERM/SIGHUP nobody handles); a file left by a process killed outright (SIGKILL) is
 * stale: it is ignored, and readers say so.
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

export async function writeStackFile(stack: Omit<StackFile, "pid" | "startedAt">): Promise<StackFile> {
  const file: StackFile = {
    pid: process.pid,
    ...stack,
    dataDir: resolve(stack.dataDir),
    startedAt: new Date().toISOString(),
  };
  // 0600: it names the collector's key.
  await writeFile(stackFilePath(stack.dataDir), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  own(stack.dataDir, file);
  return file;
}

function isStillOurs(dataDir: string, written: StackFile): boolean {
  const current = readStackFileRaw(dataDir);
  return current !== undefined && current.pid === written.pid && current.startedAt === written.startedAt;
}

/** Removes the file if it is still `written`'s (another stack may have replaced it since). */
export async function removeStackFile(dataDir: string, written: StackFile): Promise<void> {
  disown(written);
  if (isStillOurs(dataDir, written)) await rm(stackFilePath(dataDir), { force: true });
}

/** removeStackFile where nothing asynchronous runs any more ('exit', a signal's default course). */
export function removeStackFileSync(dataDir: string, written: StackFile): void {
  disown(written);
  try {
    if (isStillOurs(dataDir, written)) rmSync(stackFilePath(dataDir), { force: true });
  } catch {
    // The process is ending: a file that cannot be removed is reported as stale by its readers.
  }
}

/*
 * However this process ends, short of a kill it cannot catch, the files it wrote go with it:
 * - 'exit' runs on an uncaught error (EPIPE on a closed stdout) and on process.exit;
 * - SIGINT, SIGTERM and SIGHUP end a process that has no listener for them without 'exit': the
 *   files are removed first, then, if nobody else listens (no `observatory dev` stopping its stack,
 *   no ETL run recording its interruption), the signal takes its default course as if unheard.
 */
const ENDING_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** The files this process wrote and has not removed yet, by data directory. */
const ownFiles = new Map<string, { dataDir: string; file: StackFile }>();

function removeOwnFilesSync(): void {
  for (const { dataDir, file } of [...ownFiles.values()]) removeStackFileSync(dataDir, file);
}

function onEndingSignal(signal: NodeJS.Signals): void {
  const othersListen = process.listeners(signal).some((listener) => listener !== onEndingSignal);
  removeOwnFilesSync();
  stopGuarding();
  // With no listener left the signal's default action is back: it ends the process, as it would have.
  if (!othersListen) process.kill(process.pid, signal);
}

/**
 * Keeps onEndingSignal first in line: whoever listens for a signal may remove their listener when it
 * comes (local/step-functions/interrupt.ts does, then re-raises later), and onEndingSignal must see
 * them to know the signal is taken care of.
 */
function stayFirst(event: string | symbol, listener: unknown): void {
  if (listener === onEndingSignal || !ENDING_SIGNALS.includes(event as NodeJS.Signals)) return;
  queueMicrotask(() => {
    if (!process.listeners(event as NodeJS.Signals).includes(onEndingSignal)) return;
    // Prepend, then drop the old entry (removeListener takes the one nearest the end): the listener
    // count never reaches 0, which would restore the default action for that moment.
    process.prependListener(event as NodeJS.Signals, onEndingSignal);
    process.removeListener(event as NodeJS.Signals, onEndingSignal);
  });
}

function startGuarding(): void {
  process.on("exit", removeOwnFilesSync);
  for (const signal of ENDING_SIGNALS) process.prependListener(signal, onEndingSignal);
  process.on("newListener", stayFirst);
}

function stopGuarding(): void {
  process.removeListener("exit", removeOwnFilesSync);
  for (const signal of ENDING_SIGNALS) process.removeListener(signal, onEndingSignal);
  process.removeListener("newListener", stayFirst);
}

function own(dataDir: string, file: StackFile): void {
  if (ownFiles.size === 0) startGuarding();
  ownFiles.set(file.dataDir, { dataDir, file });
}

function disown(file: StackFile): void {
  const owned = ownFiles.get(file.dataDir)?.file;
  if (owned?.pid !== file.pid || owned.startedAt !== file.startedAt) return;
  ownFiles.delete(file.dataDir);
  if (ownFiles.size === 0) stopGuarding();
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
