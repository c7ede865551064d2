/**
 * `observatory dev` leaves `<dataDir>/stack.json` only while it runs: every way it is stopped removes
 * the file (a real child process, as `npm start | tee log` runs it), and a file left behind by a
 * process that is gone is ignored and named in the notes of the commands that read it.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLocalS3 } from "../local/stack-connection.js";
import {
  inspectStackFile,
  readStackFile,
  type StackFile,
  stackFilePath,
  staleStackFileNote,
} from "../local/stack-file.js";
import { DEV_START_TIMEOUT_MS, type DevProcess, startDevProcess } from "./support/dev-process.js";

const ROOT = join(import.meta.dirname, "..");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "obs-dev-stop-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function startDev(name: string): Promise<DevProcess> {
  const dev = await startDevProcess(join(dir, name));
  expect(readStackFile(dev.dataDir)?.pid).toBe(dev.child.pid);
  return dev;
}

/** Closes this end of dev's stdout and stderr, as a killed `tee` does, and waits until the pipe is gone. */
async function closeOutput(dev: DevProcess): Promise<void> {
  dev.child.stdout.destroy();
  dev.child.stderr.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

async function expectStoppedCleanly(dev: DevProcess, signals: readonly NodeJS.Signals[]): Promise<void> {
  const exited = await dev.exited;
  if (signals.length === 1) {
    // Exit code 0: the stop ran to its end, not a death by signal or an uncaught EPIPE (code 1).
    expect(exited, dev.output()).toEqual({ code: 0, signal: null });
  } else {
    // A repeat can land in the last moment of the exit, after Node has closed its signal handles,
    // and end the process by that signal: the stop itself must have run to its end before.
    expect(dev.output()).toMatch(/stopping the local stack\.\.\.\nstopped\.\n$/);
  }
  expect(existsSync(stackFilePath(dev.dataDir))).toBe(false);
  await expect(fetch(`${dev.collector}/v1/health`)).rejects.toThrow();
}

/** Each normal way dev is stopped: which signals it gets, and whether its output was closed first. */
const STOPS: { way: string; name: string; closeOutputFirst: boolean; signals: NodeJS.Signals[] }[] = [
  {
    way: "Ctrl-C after its piped output was closed (npm start | tee log)",
    name: "epipe",
    closeOutputFirst: true,
    signals: ["SIGINT"],
  },
  // npm forwards the terminal's Ctrl-C to a child that already has it from the terminal.
  {
    way: "the same SIGINT twice, as npm start delivers one Ctrl-C",
    name: "double",
    closeOutputFirst: false,
    signals: ["SIGINT", "SIGINT"],
  },
  {
    way: "SIGHUP: its terminal or tmux pane closed",
    name: "hup",
    closeOutputFirst: false,
    signals: ["SIGHUP"],
  },
  { way: "SIGTERM with its output closed", name: "term", closeOutputFirst: true, signals: ["SIGTERM"] },
];

describe("observatory dev removes stack.json however it stops", () => {
  it.each(STOPS)("$way", async ({ name, closeOutputFirst, signals }) => {
    const dev = await startDev(name);
    try {
      if (closeOutputFirst) await closeOutput(dev);
      for (const signal of signals) {
        dev.child.kill(signal);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await expectStoppedCleanly(dev, signals);
    } finally {
      dev.child.kill("SIGKILL");
    }
  });
});

describe("npm start | tee log, then Ctrl-C (the acceptance pass's case)", () => {
  it("removes stack.json when the terminal's SIGINT reaches npm, dev and tee at once", async () => {
    const dataDir = join(dir, "npm-tee");
    const log = join(dir, "npm-tee.log");
    // Its own process group, as a terminal's foreground job: Ctrl-C signals every process in it.
    const job = spawn(
      "sh",
      [
        "-c",
        `npm start -- --data-dir '${dataDir}' --port 0 --s3-port 0 --dynamodb-port 0 --compact-every off 2>&1 | tee '${log}'`,
      ],
      { cwd: ROOT, detached: true, stdio: "ignore" },
    );
    const ended = new Promise((resolve) => job.on("exit", resolve));
    try {
      const started = Date.now();
      while (readStackFile(dataDir) === undefined) {
        if (Date.now() - started > DEV_START_TIMEOUT_MS) throw new Error("npm start did not start the stack");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const devPid = readStackFile(dataDir)!.pid;
      process.kill(-job.pid!, "SIGINT");
      await ended;
      // dev outlives the shell's pipeline by as long as its stop takes.
      while (Date.now() - started < DEV_START_TIMEOUT_MS && processExists(devPid))
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(processExists(devPid)).toBe(false);
      expect(existsSync(stackFilePath(dataDir))).toBe(false);
    } finally {
      try {
        process.kill(-job.pid!, "SIGKILL");
      } catch {
        // The group has ended.
      }
    }
  });
});

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A child process that writes a stack file (as `observatory demo` does for the stack it starts in
 * its own process) and then runs `then`; resolves with how it ended and what it printed.
 */
function stackFileChild(
  name: string,
  then: string,
  signal?: NodeJS.Signals,
): Promise<{ dataDir: string; code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const dataDir = join(dir, name);
  const script = `
    import { mkdirSync } from "node:fs";
    const { writeStackFile } = await import("./local/stack-file.ts");
    mkdirSync(${JSON.stringify(dataDir)}, { recursive: true });
    await writeStackFile({ dataDir: ${JSON.stringify(dataDir)}, collector: "http://127.0.0.1:1", s3: "http://127.0.0.1:2", dynamodb: "http://127.0.0.1:3", bucket: "b", apiKey: "k" });
    ${then}
    console.log("written");
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr.on("data", (chunk) => (output += chunk));
  child.stdout.on("data", (chunk) => {
    output += chunk;
    if (signal && String(chunk).includes("written")) child.kill(signal);
  });
  return new Promise((resolve) =>
    child.on("exit", (code, ended) => resolve({ dataDir, code, signal: ended, output })),
  );
}

describe("stack.json of a process that ended without closing its stack", () => {
  it("is removed when the process dies of an uncaught error", async () => {
    const ended = await stackFileChild(
      "crash",
      `setTimeout(() => { throw new Error("crash while the stack runs"); }, 10);`,
    );
    expect(ended.output).toContain("crash while the stack runs");
    expect(ended.code).toBe(1);
    expect(existsSync(stackFilePath(ended.dataDir))).toBe(false);
  });

  it("is removed when a signal nobody handles ends the process, which still dies of that signal", async () => {
    const ended = await stackFileChild("unhandled", "setInterval(() => {}, 1000);", "SIGINT");
    expect(ended).toMatchObject({ code: null, signal: "SIGINT" });
    expect(existsSync(stackFilePath(ended.dataDir))).toBe(false);
  });

  it("is removed at once while an ETL run records its interruption, which still completes before the signal ends the process", async () => {
    // local/step-functions/interrupt.ts: its listener removes itself and re-raises once it has recorded.
    const ended = await stackFileChild(
      "interrupted-run",
      `const { whileInterruptible } = await import("./local/step-functions/interrupt.ts");
       const { existsSync } = await import("node:fs");
       const stackFile = ${JSON.stringify(join(dir, "interrupted-run", "stack.json"))};
       void whileInterruptible(() => new Promise(() => {}), async (signal) => {
         await new Promise((resolve) => setTimeout(resolve, 200));
         console.log("recorded " + signal + ", stack file there: " + existsSync(stackFile));
       });
       setInterval(() => {}, 1000);`,
      "SIGTERM",
    );
    expect(ended.output).toContain("recorded SIGTERM, stack file there: false");
    expect(ended).toMatchObject({ code: null, signal: "SIGTERM" });
    expect(existsSync(stackFilePath(ended.dataDir))).toBe(false);
  });
});

describe("a stale stack.json (its process was killed outright)", () => {
  async function plant(name: string, file: Pick<StackFile, "pid" | "startedAt">): Promise<string> {
    const dataDir = join(dir, name);
    await mkdir(join(dataDir, "s3"), { recursive: true });
    const stack: StackFile = {
      ...file,
      dataDir,
      // Ports nothing listens on: were the file believed, nothing would answer there.
      collector: "http://127.0.0.1:9",
      s3: "http://127.0.0.1:9",
      dynamodb: "http://127.0.0.1:9",
      bucket: "observatory-local",
      apiKey: "local-dev-key",
    };
    await writeFile(stackFilePath(dataDir), JSON.stringify(stack));
    return dataDir;
  }

  async function deadPid(): Promise<number> {
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
    await new Promise((resolve) => child.on("exit", resolve));
    return child.pid!;
  }

  it("is ignored when its process is gone, and the commands reading it say so", async () => {
    const pid = await deadPid();
    const startedAt = new Date().toISOString();
    const dataDir = await plant("dead", { pid, startedAt });
    expect(readStackFile(dataDir)).toBeUndefined();
    expect(inspectStackFile(dataDir).state).toBe("stale");
    expect(staleStackFileNote(dataDir)).toBe(
      `${stackFilePath(dataDir)} is stale (its process ${pid} is not running; written ${startedAt}): ignored until the next \`observatory dev\` replaces it`,
    );
    const s3 = await openLocalS3({ dataDir }, { readOnly: true });
    try {
      expect(s3.running).toBe(false);
      expect(s3.note).toContain(`no local stack running: read and write ${join(dataDir, "s3")} directly`);
      expect(s3.note).toContain(`directly; ${stackFilePath(dataDir)} is stale (its process ${pid}`);
    } finally {
      await s3.close();
    }
  });

  it("is ignored when its pid now belongs to a process that started after the file was written", async () => {
    const reused = await plant("reused", { pid: process.pid, startedAt: "2001-01-01T00:00:00.000Z" });
    expect(readStackFile(reused)).toBeUndefined();
    expect(staleStackFileNote(reused)).toMatch(
      new RegExp(`pid ${process.pid} is now another process, started after the file was written`),
    );
    // The same pid with a file written while it runs: a live stack, no note.
    const live = await plant("live", { pid: process.pid, startedAt: new Date().toISOString() });
    expect(readStackFile(live)?.pid).toBe(process.pid);
    expect(staleStackFileNote(live)).toBeUndefined();
  });
});
