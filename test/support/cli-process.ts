/**
 * An `observatory` command as a real child process, the way a terminal runs it (bin/observatory.js
 * from the package root), with everything it prints collected: for tests of what a command prints and
 * how it stops.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { join } from "node:path";
import type { Readable } from "node:stream";

const ROOT = join(import.meta.dirname, "..", "..");

export interface CliProcess {
  child: ChildProcessByStdio<null, Readable, Readable>;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** The exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

/** `detached`: its own process group, as a terminal's foreground job (Ctrl-C signals every process in it). */
export function spawnObservatory(args: readonly string[], options: { detached?: boolean } = {}): CliProcess {
  const child = spawn(process.execPath, ["bin/observatory.js", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}
