// `observatory dev --workers N`: the collector in N worker processes behind one port. Proves that more
// than one process really serves requests, that events land exactly once, that collector wrappers (the
// local log archive) still see every invocation's lines, and that stopping leaves no process behind;
// then the supervision: closing after kills, connections held through a restart gap (503 past the
// hold), replacements that die while starting, the crash-loop guard stopping `dev` with rc 1.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { WORKER_PID_HEADER } from "../local/collector-worker-protocol.js";
import {
  checkWorkerCount,
  MAX_COLLECTOR_WORKERS,
  MAX_REPLACEMENTS_PER_WINDOW,
  startCollectorWorkers,
  WORKER_V8_FLAGS,
} from "../local/collector-workers.js";
import { demoTraffic } from "../local/demo-traffic.js";
import { type LocalStack, startLocalStack } from "../local/stack.js";
import { stackFilePath } from "../local/stack-file.js";
import { Tracker } from "../runtime/tracker.js";
import { readNdjsonObjects } from "./collector-helpers.js";
import { spawnObservatory } from "./support/cli-process.js";
import { collectorLineCapture } from "./support/collector-line-capture.js";
import { devArgs, startDevProcess } from "./support/dev-process.js";

/** Long enough for request headers to cross the loopback into a worker (they take well under 1 ms). */
const HEADERS_ARRIVED_MS = 300;
/** Requests sent over fresh connections: round robin hands them to the workers in turn. */
const REQUESTS = 8;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("local stack with collector workers", () => {
  let dir: string;
  let stack: LocalStack;
  const collectorLines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-workers-"));
    stack = await startLocalStack({
      dataDir: dir,
      s3Port: 0,
      collectorPort: 0,
      dynamoPort: 0,
      quiet: true,
      workers: 2,
      extras: [collectorLineCapture(collectorLines)],
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves requests from two worker processes, each event stored once, every invocation's lines captured", async () => {
    const workerPids = stack.collector.workerPids();
    expect(workerPids).toHaveLength(2);
    expect(workerPids).not.toContain(process.pid);
    const servedBy: string[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const response = await fetch(`${stack.collector.url}/v1/batch`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-api-key": stack.apiKey,
          "x-correlation-id": `workers-${i}`,
          connection: "close",
        },
        body: JSON.stringify({
          batch: [{ event: "search_made", user_id: `u${i}`, properties: { query: "cats", n_results: i } }],
        }),
      });
      expect(await response.json()).toEqual({ accepted: 1, rejected: [] });
      servedBy.push(response.headers.get(WORKER_PID_HEADER)!);
    }
    // Both workers answered, and only they did.
    expect(new Set(servedBy)).toEqual(new Set(workerPids.map(String)));

    // The Tracker's keep-alive connections spread over the workers too; every event lands exactly once.
    const calls = demoTraffic({ events: 3_000, seed: 11 });
    const tracker = new Tracker({ endpoint: stack.collector.url, apiKey: stack.apiKey, flushAt: 100 });
    for (const call of calls) tracker.track(call.event, call.properties, call.options);
    await tracker.close();
    expect(tracker.stats()).toMatchObject({ accepted: calls.length, retries: 0 });
    const raw = (await readNdjsonObjects(stack.s3.client, stack.bucket, "raw/")).flatMap((o) => o.lines);
    const ids = raw.map((r) => r.event_id as string);
    expect(ids).toHaveLength(calls.length + REQUESTS);
    expect(new Set(ids).size).toBe(ids.length);

    // The wrapper in this process saw each invocation with its log line (and its correlation ID).
    await until(() => collectorLines.length >= REQUESTS + tracker.stats().requests);
    const stored = collectorLines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(stored.filter((l) => l.message === "batch stored")).toHaveLength(
      REQUESTS + tracker.stats().requests,
    );
    expect(stored.filter((l) => String(l.correlation_id).startsWith("workers-")).length).toBe(REQUESTS);
  });

  it("starts every worker with the V8 flags it is documented to have (young generation, single-threaded GC)", () => {
    for (const pid of stack.collector.workerPids()) {
      // /proc/<pid>/cmdline: the process's argv, NUL-separated (node, its flags, the worker script).
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      expect(argv).toEqual(expect.arrayContaining(WORKER_V8_FLAGS));
      expect(argv).toContain("--single-threaded-gc");
    }
  });

  it("replaces a worker that dies; the port keeps answering", async () => {
    const [victim] = stack.collector.workerPids();
    process.kill(victim!, "SIGKILL");
    await until(() => {
      const pids = stack.collector.workerPids();
      return pids.length === 2 && !pids.includes(victim!);
    });
    const response = await fetch(`${stack.collector.url}/v1/health`, { headers: { connection: "close" } });
    expect(response.status).toBe(200);
  }, 40_000);

  it("on close, lets a request in progress finish, then stops every worker process", async () => {
    const pids = stack.collector.workerPids();
    expect(pids.every(alive)).toBe(true);
    // A request whose headers have reached a worker but whose body has not all been sent yet.
    const body = Buffer.from(
      JSON.stringify({
        batch: [{ event: "search_made", user_id: "u-late", properties: { query: "dogs", n_results: 1 } }],
      }),
    );
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = httpRequest(
        `${stack.collector.url}/v1/batch`,
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "content-length": body.length,
            "x-api-key": stack.apiKey,
          },
        },
        (response) => {
          let text = "";
          response.on("data", (chunk) => (text += chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
        },
      );
      request.on("error", reject);
      request.write(body.subarray(0, 10));
      // The rest follows once the stack is stopping.
      setTimeout(() => request.end(body.subarray(10)), HEADERS_ARRIVED_MS * 2);
    });
    await new Promise((resolve) => setTimeout(resolve, HEADERS_ARRIVED_MS));
    await stack.close();
    expect(await answer).toEqual({ status: 200, text: '{"accepted":1,"rejected":[]}' });
    expect(pids.some(alive)).toBe(false);
    await expect(fetch(`${stack.collector.url}/v1/health`)).rejects.toThrow();
  });
});

/** Fails the test instead of hanging it when `promise` does not settle in time. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A quiet local stack on free ports over a new temporary directory, with `workers` collector workers. */
async function quietStack(prefix: string, workers: number): Promise<{ dir: string; stack: LocalStack }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const stack = await startLocalStack({
    dataDir: dir,
    s3Port: 0,
    collectorPort: 0,
    dynamoPort: 0,
    quiet: true,
    ...(workers > 0 ? { workers } : {}),
  });
  return { dir, stack };
}

/** Generous for stopping a worker with no requests (it takes well under a second). */
const CLOSE_TIMEOUT_MS = 10_000;

describe("closing after every worker that had a connection died", () => {
  it("resolves and leaves no worker process (the replacement never had traffic)", async () => {
    const { dir, stack } = await quietStack("obs-workers-close-", 1);
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      // The first worker is handed a connection, then dies; its replacement gets none.
      const health = await fetch(`${stack.collector.url}/v1/health`, { headers: { connection: "close" } });
      expect(health.status).toBe(200);
      const [first] = stack.collector.workerPids();
      process.kill(first!, "SIGKILL");
      await until(() => {
        const [next] = stack.collector.workerPids();
        return next !== undefined && next !== first;
      });
      const [replacement] = stack.collector.workerPids();
      await within(stack.close(), CLOSE_TIMEOUT_MS, "stack.close()");
      expect(alive(replacement!)).toBe(false);
      await expect(fetch(`${stack.collector.url}/v1/health`)).rejects.toThrow();
    } finally {
      error.mockRestore();
      await within(stack.close(), CLOSE_TIMEOUT_MS, "stack.close()").catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** Collector worker processes started by process `parent` (ready or still starting), from /proc. */
function workerProcesses(parent: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Field 4 (after "pid (comm) state") is the parent's pid.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== parent) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("collector-worker.ts"))
        pids.push(Number(entry));
    } catch {
      // The process ended while being read.
    }
  }
  return pids;
}

describe("a replacement that dies while starting", () => {
  it("counts as a crash and is replaced in turn; a connection made meanwhile waits for it", async () => {
    const { dir, stack } = await quietStack("obs-workers-starting-", 1);
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const [first] = stack.collector.workerPids();
      process.kill(first!, "SIGKILL");
      // Its replacement, caught while it starts (that takes ~0.5 s): not yet a ready worker.
      let starting: number | undefined;
      await until(() => {
        starting = workerProcesses(process.pid).find((pid) => pid !== first);
        return starting !== undefined;
      }, 10_000);
      expect(stack.collector.workerPids()).toEqual([]);
      // A connection made while no worker is ready is held (not reset) until one is.
      const held = fetch(`${stack.collector.url}/v1/health`, { headers: { connection: "close" } });
      process.kill(starting!, "SIGKILL");
      await until(() => {
        const [next] = stack.collector.workerPids();
        return next !== undefined && next !== first && next !== starting;
      });
      const [third] = stack.collector.workerPids();
      const heldAnswer = await held;
      expect(heldAnswer.status).toBe(200);
      expect(heldAnswer.headers.get(WORKER_PID_HEADER)).toBe(String(third));
      const lines = error.mock.calls.map((call) => String(call[0]));
      expect(lines).toEqual([
        `collector worker ${first} exited (SIGKILL); starting another`,
        `collector worker ${starting} exited while starting (SIGKILL); starting another`,
        `collector worker ${third} ready (replaces ${starting})`,
      ]);
      const health = await fetch(`${stack.collector.url}/v1/health`, { headers: { connection: "close" } });
      expect(health.headers.get(WORKER_PID_HEADER)).toBe(String(third));
    } finally {
      error.mockRestore();
      await within(stack.close(), CLOSE_TIMEOUT_MS, "stack.close()");
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("a worker process that cannot be created", () => {
  // Without its own 'error' handling the start waited out WORKER_START_TIMEOUT_MS (30 s, past this
  // test's timeout) and then blamed "collector worker undefined".
  it("fails the start at once with the spawn error, and leaves nothing to stop", async () => {
    const warnings: string[] = [];
    const before = workerProcesses(process.pid);
    const start = startCollectorWorkers({
      workers: 2,
      port: 0,
      config: { s3Endpoint: "http://127.0.0.1:9", bucket: "unused", apiKey: "k", schemas: [] },
      onInvocation: () => {},
      warn: (message) => warnings.push(message),
      execPath: "/nonexistent/node",
    });
    await expect(start).rejects.toThrow(
      /^a collector worker could not be started \(spawn \/nonexistent\/node ENOENT\)$/,
    );
    expect(warnings.join("\n")).not.toMatch(/undefined/);
    expect(workerProcesses(process.pid)).toEqual(before);
  }, 10_000);
});

/** A short hold, so that the test sees it run out. */
const TEST_HOLD_MS = 500;

describe("a connection held longer than the hold time", () => {
  it("is answered 503 with retry-after (not reset, not held for ever); the next one is served", async () => {
    const warnings: string[] = [];
    const pool = await startCollectorWorkers({
      workers: 1,
      port: 0,
      // Health never reaches S3.
      config: { s3Endpoint: "http://127.0.0.1:9", bucket: "unused", apiKey: "k", schemas: [] },
      onInvocation: () => {},
      warn: (message) => warnings.push(message),
      holdMs: TEST_HOLD_MS,
    });
    let frozen: number | undefined;
    try {
      const [first] = pool.pids();
      process.kill(first!, "SIGKILL");
      // Its replacement is frozen while it starts: no worker is ready for longer than the hold.
      await until(() => {
        frozen = workerProcesses(process.pid).find((pid) => pid !== first);
        return frozen !== undefined;
      }, 10_000);
      process.kill(frozen!, "SIGSTOP");
      await until(() => pool.pids().length === 0);
      const refused = await fetch(`${pool.url}/v1/health`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get("retry-after")).toBe("1");
      expect(await refused.json()).toEqual({
        message: expect.stringMatching(/no collector worker is ready/),
      });
      process.kill(frozen!, "SIGCONT");
      await until(() => pool.pids().length === 1);
      const served = await fetch(`${pool.url}/v1/health`, { headers: { connection: "close" } });
      expect(served.status).toBe(200);
      expect(warnings.at(-1)).toBe(`collector worker ${frozen} ready (replaces ${first})`);
    } finally {
      if (frozen !== undefined && alive(frozen)) process.kill(frozen, "SIGCONT");
      await within(pool.close(), CLOSE_TIMEOUT_MS, "pool.close()");
    }
  }, 60_000);
});

/** Events the Tracker sends while every worker is killed, and how fast (so that the kill lands mid-stream). */
const KILL_ALL_EVENTS = 4_000;
const KILL_ALL_EVENTS_PER_MS = 2;

describe("every worker killed while the Tracker sends", () => {
  it("holds new connections until a replacement is ready: every event lands, none dropped", async () => {
    const { dir, stack } = await quietStack("obs-workers-killall-", 2);
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const tracker = new Tracker({
        endpoint: stack.collector.url,
        apiKey: stack.apiKey,
        flushAt: 50,
        flushInterval: 100,
      });
      const victims = stack.collector.workerPids();
      const started = Date.now();
      let killed = false;
      for (let i = 0; i < KILL_ALL_EVENTS; i++) {
        tracker.track("search_made", { query: `killall-${i}`, n_results: i }, { userId: `u${i % 7}` });
        if (i % 100 === 99) {
          // Paced, so that batches are in flight before, during and after the restart gap.
          const due = started + i / KILL_ALL_EVENTS_PER_MS;
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
        }
        if (!killed && i === KILL_ALL_EVENTS / 4) {
          for (const pid of victims) process.kill(pid, "SIGKILL");
          killed = true;
        }
      }
      await tracker.close();
      const stats = tracker.stats();
      expect(stats.accepted).toBe(KILL_ALL_EVENTS);
      expect(
        Object.values(stats.dropped).every((n) => n === 0),
        JSON.stringify(stats),
      ).toBe(true);
      if (process.env.OBS_DEBUG) console.log(JSON.stringify(stats));
      // Both were replaced, and the replacements served the rest.
      await until(() => stack.collector.workerPids().length === 2);
      const replacements = stack.collector.workerPids();
      expect(replacements.some((pid) => victims.includes(pid))).toBe(false);
      const raw = (await readNdjsonObjects(stack.s3.client, stack.bucket, "raw/")).flatMap((o) => o.lines);
      const queries = new Set(raw.map((r) => (r.properties as { query: string }).query));
      expect(queries.size).toBe(KILL_ALL_EVENTS);
      // A batch stored just before its worker died, whose answer was lost, is sent again with the
      // same event_ids: raw is at least once (compaction keeps one); nothing else repeats.
      const ids = raw.map((r) => r.event_id as string);
      expect(new Set(ids).size).toBe(KILL_ALL_EVENTS);
      expect(ids.length - KILL_ALL_EVENTS).toBeLessThanOrEqual(victims.length * 50);
    } finally {
      error.mockRestore();
      await within(stack.close(), CLOSE_TIMEOUT_MS, "stack.close()");
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe("a worker that keeps crashing", () => {
  it(`is replaced ${MAX_REPLACEMENTS_PER_WINDOW} times within a minute, then no more (and the stack says so)`, async () => {
    // Crashes are errors: on stderr even for a quiet stack.
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const { dir, stack } = await quietStack("obs-workers-crash-", 1);
    try {
      const seen = new Set<number>();
      for (let crash = 0; crash <= MAX_REPLACEMENTS_PER_WINDOW; crash++) {
        const [pid] = stack.collector.workerPids();
        seen.add(pid!);
        process.kill(pid!, "SIGKILL");
        if (crash < MAX_REPLACEMENTS_PER_WINDOW)
          await until(() => {
            const [next] = stack.collector.workerPids();
            return next !== undefined && !seen.has(next);
          });
      }
      await until(() => stack.collector.workerPids().length === 0);
      // Give a (wrong) replacement time to appear: none does.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(stack.collector.workerPids()).toEqual([]);
      expect(seen.size).toBe(MAX_REPLACEMENTS_PER_WINDOW + 1);
      const lines = log.mock.calls.map((call) => String(call[0]));
      expect(lines.filter((line) => line.endsWith("; starting another"))).toHaveLength(
        MAX_REPLACEMENTS_PER_WINDOW,
      );
      expect(lines.at(-1)).toMatch(/replaced in the last 60s, not starting another \(0 left\)$/);
      // Each replacement said which worker it replaced.
      const pids = [...seen];
      for (let i = 1; i < pids.length; i++)
        expect(lines).toContain(`collector worker ${pids[i]} ready (replaces ${pids[i - 1]})`);
      // The stack does not pretend: it reports the failure, and the port answers 503 (retryable).
      expect((await within(stack.failed, CLOSE_TIMEOUT_MS, "stack.failed")).message).toMatch(
        /^the collector has no worker left: collector worker \d+ exited \(SIGKILL\) after 5 replacements in the last 60s/,
      );
      const health = await fetch(`${stack.collector.url}/v1/health`);
      expect(health.status).toBe(503);
      expect(health.headers.get("retry-after")).toBe("1");
    } finally {
      log.mockRestore();
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("observatory dev --workers 2", () => {
  it("prints its workers, and Ctrl-C (SIGINT to the whole process group) stops them all cleanly", async () => {
    const dir = await mkdtemp(join(tmpdir(), "obs-workers-dev-"));
    // Its own process group, as a terminal's foreground job: Ctrl-C signals every process in it.
    const {
      child,
      output: printed,
      exited,
    } = spawnObservatory(devArgs(dir, ["--no-logs", "--workers", "2"]), { detached: true });
    try {
      await until(() => /2 workers \(pids \d+, \d+\)/.test(printed()), 60_000);
      const pids = /2 workers \(pids (\d+), (\d+)\)/.exec(printed())!.slice(1).map(Number);
      const url = /collector\s+(http:\/\/127\.0\.0\.1:\d+)\/v1\/batch/.exec(printed())![1]!;
      const health = await fetch(`${url}/v1/health`, { headers: { connection: "close" } });
      expect(pids).toContain(Number(health.headers.get(WORKER_PID_HEADER)));
      process.kill(-child.pid!, "SIGINT");
      expect(await exited).toBe(0);
      expect(printed()).toContain("stopped.");
      expect(pids.some(alive)).toBe(false);
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe("observatory dev --workers 1 --quiet whose worker keeps crashing", () => {
  it("says so on stderr, then stops with an error (rc 1) and removes stack.json", async () => {
    const dir = await mkdtemp(join(tmpdir(), "obs-workers-dev-crash-"));
    const dev = await startDevProcess(dir, ["--workers", "1", "--quiet", "--no-logs"]);
    let stderr = "";
    dev.child.stderr.on("data", (chunk) => (stderr += chunk));
    try {
      expect(existsSync(stackFilePath(dir))).toBe(true);
      const killed: number[] = [];
      for (let crash = 0; crash <= MAX_REPLACEMENTS_PER_WINDOW; crash++) {
        let pid: number | undefined;
        await until(() => {
          pid = workerProcesses(dev.child.pid!).find((p) => !killed.includes(p));
          return pid !== undefined && (crash === 0 || stderr.includes(`collector worker ${pid} ready`));
        });
        process.kill(pid!, "SIGKILL");
        killed.push(pid!);
      }
      const exited = await within(dev.exited, CLOSE_TIMEOUT_MS, "dev");
      expect(exited, dev.output()).toEqual({ code: 1, signal: null });
      // --quiet hides the banner, not the crashes: each one and each replacement, on stderr.
      expect(stderr.match(/; starting another\n/g)).toHaveLength(MAX_REPLACEMENTS_PER_WINDOW);
      expect(stderr.match(/ ready \(replaces \d+\)\n/g)).toHaveLength(MAX_REPLACEMENTS_PER_WINDOW);
      expect(stderr).toMatch(/not starting another \(0 left\)\n/);
      expect(stderr).toMatch(
        /\nobservatory dev: no collector worker left; stopping the local stack\.\.\.\nobservatory: the collector has no worker left: .*; the local stack has stopped\n$/,
      );
      expect(existsSync(stackFilePath(dir))).toBe(false);
      expect(killed.some(alive)).toBe(false);
      await expect(fetch(`${dev.collector}/v1/health`)).rejects.toThrow();
    } finally {
      if (dev.child.exitCode === null) dev.child.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe("a quiet stack's collector errors", () => {
  it("go to stderr (the in-process collector; workers print theirs on their inherited stderr)", async () => {
    const { dir, stack } = await quietStack("obs-quiet-errors-", 0);
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      // S3 gone: the collector cannot store the batch, answers 503 and logs an error.
      await stack.s3.close();
      const response = await fetch(`${stack.collector.url}/v1/batch`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": stack.apiKey },
        body: JSON.stringify({
          batch: [{ event: "search_made", user_id: "u1", properties: { query: "cats", n_results: 1 } }],
        }),
      });
      expect(response.status).toBe(503);
      const lines = error.mock.calls.map((call) => String(call[0]));
      expect(lines.some((line) => line.startsWith("collector: raw write failed; answering 503"))).toBe(true);
      expect(log).not.toHaveBeenCalled();
    } finally {
      error.mockRestore();
      log.mockRestore();
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("checkWorkerCount", () => {
  it("accepts 0 to the maximum and explains anything else", () => {
    expect(checkWorkerCount(0)).toBe(0);
    expect(checkWorkerCount(MAX_COLLECTOR_WORKERS)).toBe(MAX_COLLECTOR_WORKERS);
    expect(checkWorkerCount("2")).toBe(2);
    // Digits only: Number() would take "0x2" (2) and "1e1" (10).
    for (const bad of [
      -1,
      1.5,
      Number.NaN,
      MAX_COLLECTOR_WORKERS + 1,
      "",
      " ",
      "two",
      "2x",
      "0x2",
      "1e1",
      "-1",
      "2.0",
      " 2",
    ])
      expect(() => checkWorkerCount(bad)).toThrow(/--workers must be a whole number from 0/);
    expect(() => checkWorkerCount("two")).toThrow(`to ${MAX_COLLECTOR_WORKERS}, got "two"`);
    expect(() => checkWorkerCount("0x2")).toThrow(`to ${MAX_COLLECTOR_WORKERS}, got "0x2"`);
    expect(checkWorkerCount("016")).toBe(16);
  });
});
