/**
 * `observatory dev --workers N`: the collector in N worker processes behind one collector port, so
 * that the receiver uses more than one core. This process accepts each connection (paused, nothing
 * read) and hands it to the next worker in turn; a worker serves every request of that connection
 * (keep-alive) through the same local API Gateway and collector as the one-process stack. s3rver and
 * dynalite stay in this process.
 */
import { type ChildProcess, fork } from "node:child_process";
import { createRequire } from "node:module";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { HttpLambda } from "./api-gateway.js";
import {
  type CollectorWorkerConfig,
  type InvocationRecord,
  type ToPrimary,
  type ToWorker,
  WORKER_CONFIG_ENV,
} from "./collector-worker-protocol.js";

/**
 * `observatory dev`'s default: the collector in the stack's own process. One process absorbs tens of
 * thousands of events per second (docs/benchmarks/tracker.md), far beyond development traffic, starts
 * fastest, and leaves the machine's cores to the app being developed; --workers is for load tests.
 */
export const DEFAULT_COLLECTOR_WORKERS = 0;
/** More workers than this only adds processes that wait for cores (and ~120 MB of memory each). */
export const MAX_COLLECTOR_WORKERS = 16;
/** A worker that dies is replaced, but at most this many times per window: a crash loop is a bug. */
export const MAX_REPLACEMENTS_PER_WINDOW = 5;
export const REPLACEMENT_WINDOW_MS = 60_000;
/** How long a worker has to start (tsx compiles the collector on first start). */
export const WORKER_START_TIMEOUT_MS = 30_000;
/** How long stopping waits for a worker's requests in progress before ending it. */
export const WORKER_STOP_TIMEOUT_MS = 10_000;

/**
 * V8's young generation per worker (MB per semi-space; Node 20's default is 16). The collector
 * allocates a lot of short-lived data per request (parsed events, records, strings); a larger nursery
 * means fewer scavenges: 32 cut a worker's CPU per event by ~6% (6.8 -> 6.4 us, 4 alternating rounds of
 * capacity runs, docs/benchmarks/tracker.md); 64 gained no more.
 */
export const WORKER_SEMI_SPACE_MB = 32;

/**
 * The workers' V8 flags. `--single-threaded-gc`: N workers are there to keep N cores busy, so V8's
 * GC helper threads (one set per worker) can only take cores from the other workers, the stack and
 * the app, and the hand-offs cost more than they save: with it, the whole pipeline (client, stack,
 * 2 workers) used ~5% less CPU per event, 4 alternating pairs of end-to-end runs on this 2-core
 * machine (docs/benchmarks/tracker.md, "Fifth pass"). The stack's own process gained nothing from it.
 */
export const WORKER_V8_FLAGS = [`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`, "--single-threaded-gc"];

const WORKER_ENTRY = fileURLToPath(new URL("./collector-worker.ts", import.meta.url));
/** Workers load TypeScript the way bin/observatory.js does: through tsx (resolved from this package). */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/**
 * How long a new connection waits for a ready worker when none is (a replacement starts in ~0.5 s)
 * before it is answered 503: clients retry a 503, and nothing waits for ever.
 */
export const CONNECTION_HOLD_MS = 10_000;
/** How long a refused connection may take to read its 503 before it is closed anyway. */
const REFUSED_LINGER_MS = 5_000;

export interface CollectorWorkers extends HttpLambda {
  /** The worker processes' ids (a worker that crashed is replaced by a new one). */
  pids(): number[];
  /** Whether workers send each invocation (log lines, result) to `onInvocation`. */
  setCapture(on: boolean): void;
  /**
   * Settles (with the reason) once no worker is left and none will be started: the crash-loop guard
   * stopped replacing them. From then on every connection is answered 503; the owner should stop.
   */
  failed: Promise<Error>;
}

/** A worker count as given (`--workers` text or a number), checked; the error says what is allowed. */
export function checkWorkerCount(given: number | string): number {
  // Digits only: Number() would also take "0x2" or "1e1".
  const workers = typeof given === "string" ? (/^\d+$/.test(given) ? Number(given) : Number.NaN) : given;
  if (!Number.isInteger(workers) || workers < 0 || workers > MAX_COLLECTOR_WORKERS)
    throw new Error(
      `--workers must be a whole number from 0 (the collector in the stack's own process) to ${MAX_COLLECTOR_WORKERS}, got ${JSON.stringify(given)}`,
    );
  return workers;
}

export async function startCollectorWorkers(options: {
  workers: number;
  port: number;
  host?: string;
  config: CollectorWorkerConfig;
  /** Each invocation's log lines and result, while capture is on. */
  onInvocation(record: InvocationRecord): void;
  /** Worker crashes, replacements and the crash-loop guard: always shown (not muted by --quiet). */
  warn(message: string): void;
  /** How long a connection waits for a ready worker (default CONNECTION_HOLD_MS; tests shorten it). */
  holdMs?: number;
  /** The Node binary the workers run on (default: this process's; tests give one that cannot start). */
  execPath?: string;
}): Promise<CollectorWorkers> {
  const host = options.host ?? "127.0.0.1";
  /** The workers that are ready, in round-robin order. */
  const workers: ChildProcess[] = [];
  /** Every worker process not yet exited, ready or still starting (a replacement in progress). */
  const children = new Set<ChildProcess>();
  /** Replacements being started. */
  let starting = 0;
  /** Connections accepted while no worker was ready, waiting (paused, unread) for one. */
  const held = new Map<Socket, NodeJS.Timeout>();
  let capture = false;
  let stopping = false;
  /** When workers were replaced lately (crash-loop guard). */
  let replacements: number[] = [];
  let next = 0;
  let reportFailure!: (error: Error) => void;
  const failed = new Promise<Error>((resolve) => {
    reportFailure = resolve;
  });
  let failure: Error | undefined;

  const startWorker = async (): Promise<ChildProcess> => {
    const child = fork(WORKER_ENTRY, [], {
      execPath: options.execPath ?? process.execPath,
      execArgv: [...WORKER_V8_FLAGS, "--import", TSX_LOADER],
      env: { ...process.env, [WORKER_CONFIG_ENV]: JSON.stringify(options.config) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.add(child);
    child.once("exit", () => children.delete(child));
    let onStartExit = (_code: number | null, _signal: NodeJS.Signals | null) => {};
    let onStartError = (_error: Error) => {};
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new WorkerStartError(child.pid, `did not start within ${WORKER_START_TIMEOUT_MS / 1000}s`));
      }, WORKER_START_TIMEOUT_MS);
      onStartExit = (code, signal) => {
        clearTimeout(timer);
        reject(new WorkerStartError(child.pid, `exited while starting (${signal ?? `code ${code}`})`));
      };
      // The process could not be created at all (EAGAIN, ENOMEM, no such binary): no pid, no 'exit'
      // to wait for, so it is no child to stop either.
      onStartError = (error) => {
        clearTimeout(timer);
        if (child.pid === undefined) children.delete(child);
        reject(new WorkerStartError(child.pid, `could not be started (${error.message})`));
      };
      child.once("exit", onStartExit);
      child.once("error", onStartError);
      child.on("message", (message: ToPrimary) => {
        if (message.type === "ready") {
          clearTimeout(timer);
          resolve();
        } else if (message.type === "invocation") options.onInvocation(message.record);
      });
    });
    // A message that cannot be written (the worker died a moment ago, its channel not yet seen
    // closed) is emitted here; unheard, it would crash this process. Its 'exit' replaces the worker.
    child.on("error", (error) => options.warn(`collector worker ${child.pid}: ${error.message}`));
    child.off("exit", onStartExit);
    child.off("error", onStartError);
    if (capture) tell(child, { type: "capture", on: true });
    // Out of the rotation as soon as its channel is gone (it can no longer be handed connections).
    const retire = () => {
      const index = workers.indexOf(child);
      if (index >= 0) workers.splice(index, 1);
    };
    child.once("disconnect", retire);
    child.once("exit", (code, signal) => {
      retire();
      // A crashed worker loses only its own requests in progress (their clients retry); the port
      // keeps being served by the others and by its replacement.
      replace(child.pid!, `collector worker ${child.pid} exited (${signal ?? `code ${code}`})`);
    });
    return child;
  };

  /**
   * Starts a worker in place of one that died (`what` says how), within the crash-loop guard.
   * `oldPid` is undefined when the one replaced could not even be created.
   */
  const replace = (oldPid: number | undefined, what: string): void => {
    if (stopping) return;
    const now = Date.now();
    replacements = replacements.filter((at) => now - at < REPLACEMENT_WINDOW_MS);
    if (replacements.length >= MAX_REPLACEMENTS_PER_WINDOW) {
      // Crashing again and again is a bug, not bad luck: stop feeding it processes.
      const left = workers.length + starting;
      options.warn(
        `${what}; ${replacements.length} replaced in the last ${REPLACEMENT_WINDOW_MS / 1000}s, not starting another (${left} left)`,
      );
      if (left === 0)
        fail(
          new Error(
            `the collector has no worker left: ${what} after ${replacements.length} replacements in the last ${REPLACEMENT_WINDOW_MS / 1000}s (a crash loop is a bug: see the lines above)`,
          ),
        );
      return;
    }
    replacements.push(now);
    options.warn(`${what}; starting another`);
    starting++;
    startWorker().then(
      (replacement) => {
        starting--;
        if (stopping) return;
        workers.push(replacement);
        options.warn(
          `collector worker ${replacement.pid} ready (replaces ${oldPid ?? "one that could not be started"})`,
        );
        for (const socket of [...held.keys()]) handOver(socket);
      },
      (error: Error) => {
        starting--;
        // A replacement that dies while starting is a crash like any other (counted, replaced).
        replace(error instanceof WorkerStartError ? error.pid : oldPid, error.message);
      },
    );
  };

  const fail = (error: Error) => {
    failure = error;
    for (const socket of [...held.keys()]) refuse(socket);
    reportFailure(error);
  };

  /** Hands a connection to the next ready worker, or holds it until one is ready. */
  const handOver = (socket: Socket): void => {
    const hold = held.get(socket);
    if (hold) clearTimeout(hold);
    held.delete(socket);
    if (socket.destroyed) return;
    if (stopping) return void socket.destroy();
    const worker = nextWorker();
    if (!worker) {
      if (failure) {
        refuse(socket);
        return;
      }
      // Held even with no replacement starting yet: a worker whose channel just closed is replaced
      // when its exit arrives, a moment later (and the wait is bounded either way).
      held.set(
        socket,
        setTimeout(() => {
          held.delete(socket);
          refuse(socket);
        }, options.holdMs ?? CONNECTION_HOLD_MS),
      );
      return;
    }
    // Handed over unread; from here the connection is the worker's (this process's copy closes).
    worker.send({ type: "connection" } satisfies ToWorker, socket, (error) => {
      // The worker went away before taking it: another (or its replacement) gets it.
      if (error) handOver(socket);
    });
  };

  const nextWorker = (): ChildProcess | undefined => {
    for (let tried = 0; tried < workers.length; tried++) {
      const worker = workers[next++ % workers.length]!;
      if (worker.connected) return worker;
    }
    return undefined;
  };

  const stopWorkers = () =>
    Promise.all(
      [...children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            let timer: NodeJS.Timeout | undefined;
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            // A worker still starting has no requests yet (and may not listen for "stop" yet).
            if (!workers.includes(child)) return void child.kill("SIGKILL");
            timer = setTimeout(() => child.kill("SIGKILL"), WORKER_STOP_TIMEOUT_MS);
            tell(child, { type: "stop" });
          }),
      ),
    );

  let server: Server | undefined;
  try {
    // Started side by side (each takes ~0.5 s to load); if one fails, those that started are stopped.
    const started = await Promise.allSettled(Array.from({ length: options.workers }, startWorker));
    for (const result of started) if (result.status === "fulfilled") workers.push(result.value);
    const failedStart = started.find((result) => result.status === "rejected");
    if (failedStart) throw (failedStart as PromiseRejectedResult).reason;
    server = createServer({ pauseOnConnect: true }, handOver);
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(options.port, host, () => {
        server!.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    stopping = true;
    server?.close();
    await stopWorkers();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    pids: () => workers.map((w) => w.pid!),
    setCapture(on) {
      capture = on;
      for (const worker of workers) tell(worker, { type: "capture", on });
    },
    failed,
    close: () =>
      (closed ??= (async () => {
        stopping = true;
        // Held connections have sent nothing yet that was read: their clients retry elsewhere/later.
        for (const [socket, timer] of held) {
          clearTimeout(timer);
          socket.destroy();
        }
        held.clear();
        // No new connections: close() closes the listening handle at once. Its 'close' event is not
        // awaited: Node emits it only after asking each worker that was handed a connection, and
        // never when no live worker has been handed one (all of those died; replacements had no
        // traffic yet), which hung the stop. The workers finish the requests they have, then exit.
        server!.close();
        await stopWorkers();
      })()),
  };
}

/** A worker that died or hung before it was ready; says which one (no pid: its process was never created). */
class WorkerStartError extends Error {
  constructor(
    readonly pid: number | undefined,
    what: string,
  ) {
    super(pid === undefined ? `a collector worker ${what}` : `collector worker ${pid} ${what}`);
  }
}

/** The answer to a connection no worker can take: 503 (clients retry it), then the connection closes. */
function refuse(socket: Socket): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ message: "no collector worker is ready (see the observatory dev console)" });
  // The request is drained unread, so that closing does not reset the connection before the
  // client has read the answer.
  socket.on("error", () => {});
  socket.on("data", () => {});
  socket.resume();
  socket.setTimeout(REFUSED_LINGER_MS, () => socket.destroy());
  socket.end(
    `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`,
  );
}

function tell(child: ChildProcess, message: ToWorker): void {
  if (child.connected) child.send(message);
}
