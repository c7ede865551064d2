/**
 * Runs a handler in a pool of worker threads (piscina), like a fleet of Lambda instances: each thread
 * has its own isolate and event loop, so CPU-bound workers run in parallel on several cores while the
 * runner keeps scheduling (in-process workers would share one thread and concurrency 2 would not be
 * 2x). The Map's MaxConcurrency still decides how many invocations are in flight; the pool size is how
 * many cores they may use. Payloads cross the thread boundary as structured clones of JSON, as a
 * Lambda payload crosses the wire; an error keeps its name and message (Lambda errorType/errorMessage).
 */
import { Piscina } from "piscina";

const THREAD_MODULE = new URL("./worker-thread.mjs", import.meta.url);
/** Threads stay up between invocations for the pool's life, like warm Lambda instances. */
const KEEP_WARM_MS = 60_000;

export interface WorkerPool {
  invoke(payload: unknown): Promise<unknown>;
  /** Threads running (all of them start when the pool is created). */
  readonly threads: number;
  close(): Promise<void>;
}

class InvocationError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

type Outcome = { ok: true; result: unknown } | { ok: false; error: { name: string; message: string } };

/**
 * @param setupModule URL of a module exporting `createHandler(options)` that returns `(payload) => Promise<result>`.
 * @param options JSON given to createHandler in each thread.
 */
export function createWorkerPool(o: { setupModule: URL; options: unknown; size: number }): WorkerPool {
  if (!Number.isInteger(o.size) || o.size < 1)
    throw new Error(`worker pool size must be a positive integer, got ${o.size}`);
  const pool = new Piscina({
    filename: THREAD_MODULE.href,
    // All threads start at once: started on demand, piscina queues early tasks on the first thread
    // while it loads and the second one never gets work (seen in test/etl-local-runner.test.ts).
    minThreads: o.size,
    maxThreads: o.size,
    idleTimeout: KEEP_WARM_MS,
    workerData: { setupModule: o.setupModule.href, options: o.options },
  });
  return {
    async invoke(payload) {
      let outcome: Outcome;
      try {
        outcome = (await pool.run(payload)) as Outcome;
      } catch (error) {
        // The thread itself died (out of memory, process.exit in a handler): like a crashed instance.
        throw new InvocationError("Lambda.Unknown", `worker thread failed: ${(error as Error).message}`);
      }
      if (outcome.ok) return outcome.result;
      throw new InvocationError(outcome.error.name, outcome.error.message);
    },
    get threads() {
      return pool.threads.length;
    },
    async close() {
      await pool.destroy();
    },
  };
}
