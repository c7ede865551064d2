/**
 * `observatory dev --workers N`: the collector in N worker processes behind one collector port, so
 * that the receiver uses more than one core. This process accepts each connection (paused, nothing
 * read) and hands it to the next worker in turn; a worker serves every request of that connection
 * (keep-alive) through the same local API Gateway and collector as the one-process stack. s3rver and
 * dynalite stay in this process.
 */
import { type ChildProcess, fork } from "node:child_process";
import { createRequire } from "node:module";
import { type AddressInfo, createServer, type Server } from "node:net";
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

const WORKER_ENTRY = fileURLToPath(new URL("./collector-worker.ts", import.meta.url));
/** Workers load TypeScript the way bin/observatory.js does: through tsx (resolved from this package). */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface CollectorWorkers extends HttpLambda {
  /** The worker processes' ids (a worker that crashed is replaced by a new one). */
  pids(): number[];
  /** Whether workers send each invocation (log lines, result) to `onInvocation`. */
  setCapture(on: boolean): void;
}

/** A worker count as given (`--workers` text or a number), checked; the error says what is allowed. */
export function checkWorkerCount(given: number | string): number {
  const workers = typeof given === "string" && given.trim() !== "" ? Number(given) : given;
  if (
    typeof workers !== "number" ||
    !Number.isInteger(workers) ||
    workers < 0 ||
    workers > MAX_COLLECTOR_WORKERS
  )
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
  log(message: string): void;
}): Promise<CollectorWorkers> {
  const host = options.host ?? "127.0.0.1";
  /** The workers that are ready, in round-robin order. */
  const workers: ChildProcess[] = [];
  /** Every worker process not yet exited, ready or still starting (a replacement in progress). */
  const children = new Set<ChildProcess>();
  let capture = false;
  let stopping = false;
  /** When workers were replaced lately (crash-loop guard). */
  let replacements: number[] = [];
  let next = 0;

  const startWorker = async (): Promise<ChildProcess> => {
    const child = fork(WORKER_ENTRY, [], {
      execArgv: [`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`, "--import", TSX_LOADER],
      env: { ...process.env, [WORKER_CONFIG_ENV]: JSON.stringify(options.config) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.add(child);
    child.once("exit", () => children.delete(child));
    let onStartExit = (_code: number | null) => {};
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`a collector worker did not start within ${WORKER_START_TIMEOUT_MS / 1000}s`));
      }, WORKER_START_TIMEOUT_MS);
      onStartExit = (code) => {
        clearTimeout(timer);
        reject(new Error(`a collector worker exited while starting (code ${code})`));
      };
      child.once("exit", onStartExit);
      child.on("message", (message: ToPrimary) => {
        if (message.type === "ready") {
          clearTimeout(timer);
          resolve();
        } else if (message.type === "invocation") options.onInvocation(message.record);
      });
    });
    child.off("exit", onStartExit);
    if (capture) tell(child, { type: "capture", on: true });
    child.once("exit", (code, signal) => {
      const index = workers.indexOf(child);
      if (index >= 0) workers.splice(index, 1);
      if (stopping) return;
      const why = signal ?? `code ${code}`;
      const now = Date.now();
      replacements = replacements.filter((at) => now - at < REPLACEMENT_WINDOW_MS);
      if (replacements.length >= MAX_REPLACEMENTS_PER_WINDOW) {
        // Crashing again and again is a bug, not bad luck: stop feeding it processes.
        options.log(
          `collector worker ${child.pid} exited (${why}); ${replacements.length} replaced in the last ${REPLACEMENT_WINDOW_MS / 1000}s, not starting another (${workers.length} left)`,
        );
        return;
      }
      replacements.push(now);
      // A crashed worker loses only its own requests in progress (their clients retry); the port
      // keeps being served by the others and by its replacement.
      options.log(`collector worker ${child.pid} exited (${why}); starting another`);
      startWorker().then(
        (replacement) => workers.push(replacement),
        (error: Error) => {
          if (!stopping) options.log(`collector worker: ${error.message}`);
        },
      );
    });
    return child;
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
    const failed = started.find((result) => result.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    server = createServer({ pauseOnConnect: true }, (socket) => {
      const worker = workers[next++ % workers.length];
      if (!worker) return socket.destroy();
      // Handed over unread; from here the connection is the worker's (this process's copy closes).
      worker.send({ type: "connection" } satisfies ToWorker, socket, (error) => {
        if (error) socket.destroy();
      });
    });
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
    close: () =>
      (closed ??= (async () => {
        stopping = true;
        // No new connections: close() closes the listening handle at once. Its 'close' event is not
        // awaited: Node emits it only after asking each worker that was handed a connection, and
        // never when no live worker has been handed one (all of those died; replacements had no
        // traffic yet), which hung the stop. The workers finish the requests they have, then exit.
        server!.close();
        await stopWorkers();
      })()),
  };
}

function tell(child: ChildProcess, message: ToWorker): void {
  if (child.connected) child.send(message);
}
