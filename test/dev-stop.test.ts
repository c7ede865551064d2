/**
 * `observatory dev` leaves `<dataDir>/stack.json` only while it runs: every way it is stopped removes
 * the file (a real child process, as `npm start | tee log` runs it), and a file left behind by a
 * process that is gone is ignored and named in the notes of the commands that read it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
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

const ROOT = join(import.meta.dirname, "..");
/** Starting dev compiles the CLI through tsx and starts three servers: slow on a busy 2-core machine. */
const START_TIMEOUT_MS = 60_000;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "obs-dev-stop-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface RunningDev {
  child: ChildProcessWithoutNullStreams;
  dataDir: string;
  collector: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `observatory dev` on free ports, its stdout and stderr piped to this process (as to tee). */
async function startDev(name: string): Promise<RunningDev> {
  const dataDir = join(dir, name);
  const child = spawn(
    process.execPath,
    [
      "bin/observatory.js",
      "dev",
      "--data-dir",
      dataDir,
      "--port",
      "0",
      "--s3-port",
      "0",
      "--dynamodb-port",
      "0",
      "--compact-every",
      "off",
    ],
    { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] },
  );
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
    const timer = setTimeout(() => reject(new Error(`dev did not start:\n${output}`)), START_TIMEOUT_MS);
    child.on("exit", () => reject(new Error(`dev exited before it started:\n${output}`)));
    child.stdout.on("data", () => {
      const match = /collector\s+(http:\/\/127\.0\.0\.1:\d+)\/v1\/batch/.exec(output);
      // The banner is printed once stack.json is written.
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  expect(readStackFile(dataDir)?.pid).toBe(child.pid);
  return { child, dataDir, collector, exited };
}

/** Closes this end of dev's stdout and stderr, as a killed `tee` does, and waits until the pipe is gone. */
async function closeOutput(dev: RunningDev): Promise<void> {
  dev.child.stdout.destroy();
  dev.child.stderr.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

async function expectStoppedCleanly(dev: RunningDev): Promise<void> {
  // Exit code 0: the stop ran to its end, not a death by signal or an uncaught EPIPE (code 1).
  expect(await dev.exited).toEqual({ code: 0, signal: null });
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
      await expectStoppedCleanly(dev);
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
        if (Date.now() - started > START_TIMEOUT_MS) throw new Error("npm start did not start the stack");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const devPid = readStackFile(dataDir)!.pid;
      process.kill(-job.pid!, "SIGINT");
      await ended;
      // dev outlives the shell's pipeline by as long as its stop takes.
      while (Date.now() - started < START_TIMEOUT_MS && processExists(devPid))
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

describe("stack.json of a process that ended without closing its stack", () => {
  it("is removed when the process dies of an uncaught error", async () => {
    const dataDir = join(dir, "crash");
    await mkdir(dataDir, { recursive: true });
    const script = `
      const { writeStackFile } = await import("./local/stack-file.ts");
      await writeStackFile({ dataDir: ${JSON.stringify(dataDir)}, collector: "http://127.0.0.1:1", s3: "http://127.0.0.1:2", dynamodb: "http://127.0.0.1:3", bucket: "b", apiKey: "k" });
      console.log("written");
      setTimeout(() => { throw new Error("crash while the stack runs"); }, 10);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(output).toContain("written");
    expect(output).toContain("crash while the stack runs");
    expect(code).toBe(1);
    expect(existsSync(stackFilePath(dataDir))).toBe(false);
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
