/**
 * The discovery file a running local stack leaves in its data directory (`<dataDir>/stack.json`):
 * where its collector, S3 and DynamoDB listen, so every other command (demo, trace, query, cost,
 * etl --local) finds a stack on any ports through `--data-dir` alone. Removed when the stack stops;
 * a file whose process is gone (killed, crashed) is ignored.
 */
import { readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

export const STACK_FILE_NAME = "stack.json";

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
  return file;
}

/** Removes the file if it is still `written`'s (another stack may have replaced it since). */
export async function removeStackFile(dataDir: string, written: StackFile): Promise<void> {
  const current = readStackFileRaw(dataDir);
  if (current && current.pid === written.pid && current.startedAt === written.startedAt) {
    await rm(stackFilePath(dataDir), { force: true });
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

/** The stack file of `dataDir`, when there is one and its process still runs. */
export function readStackFile(dataDir: string): StackFile | undefined {
  const file = readStackFileRaw(dataDir);
  return file && processAlive(file.pid) ? file : undefined;
}
