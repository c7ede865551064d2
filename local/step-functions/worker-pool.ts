/**
 * Runs a handler in a pool of worker threads, like a fleet of Lambda instances: each thread has its
 * own isolate and event loop, so CPU-bound workers run in parallel on several cores while the runner
 * keeps scheduling (in-process workers would share one thread and concurrency 2 would not be 2x).
 * The Map's MaxConcurrency still decides how many invocations are in flight; the pool size is how
 * many cores they may use. Payloads cross the thread boundary as structured clones of JSON, as a
 * Lambda payload crosses the wire; an error keeps its name and message (Lambda errorType/errorMessage).
 */
import { Worker } from "node:worker_threads";

const THREAD_BOOTSTRAP = new URL("./worker-thread.mjs", import.meta.url);

export interface WorkerPool {
  invoke(payload: unknown): Promise<unknown>;
  /** Threads started so far (they start on demand, up to the pool size). */
  readonly threads: number;
  close(): Promise<void>;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

class InvocationError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/**
 * @param setupModule URL of a module exporting `createHandler(options)` that returns `(payload) => Promise<result>`.
 * @param options JSON given to createHandler in each thread.
 */
export function createWorkerPool(o: { setupModule: URL; options: unknown; size: number }): WorkerPool {
  if (!Number.isInteger(o.size) || o.size < 1)
    throw new Error(`worker pool size must be a positive integer, got ${o.size}`);
  interface Thread {
    worker: Worker;
    ready: boolean;
    current?: Pending;
  }
  const threads: Thread[] = [];
  const queue: { payload: unknown; pending: Pending }[] = [];
  let closed = false;
  let initError: InvocationError | undefined;

  /** Hands the next queued invocation to a ready, idle thread; starts a thread if none and room. */
  const dispatch = () => {
    for (const thread of threads) {
      if (queue.length === 0) return;
      if (!thread.ready || thread.current) continue;
      const next = queue.shift()!;
      thread.current = next.pending;
      thread.worker.postMessage({ payload: next.payload });
    }
    if (queue.length > 0 && threads.length < o.size && !closed) start();
  };

  const start = () => {
    const thread: Thread = {
      worker: new Worker(THREAD_BOOTSTRAP, {
        workerData: { setupModule: o.setupModule.href, options: o.options },
      }),
      ready: false,
    };
    threads.push(thread);
    thread.worker.on(
      "message",
      (message: {
        ready?: true;
        ok?: boolean;
        result?: unknown;
        error?: { name: string; message: string };
      }) => {
        if (message.ready) {
          thread.ready = true;
        } else {
          const pending = thread.current;
          thread.current = undefined;
          if (message.ok) pending?.resolve(message.result);
          else pending?.reject(new InvocationError(message.error!.name, message.error!.message));
        }
        dispatch();
      },
    );
    thread.worker.on("error", (error) => {
      threads.splice(threads.indexOf(thread), 1);
      if (!thread.ready) {
        // The handler could not even be set up (a bad module): every thread would fail the same way,
        // so fail what waits and what comes, instead of restarting threads forever.
        initError = new InvocationError("Runtime.ImportModuleError", `worker setup failed: ${error.message}`);
        for (const { pending } of queue.splice(0)) pending.reject(initError);
        return;
      }
      // A thread that dies takes its invocation with it, like a Lambda instance that crashes.
      thread.current?.reject(
        new InvocationError("Lambda.Unknown", `worker thread crashed: ${error.message}`),
      );
      dispatch();
    });
  };

  return {
    invoke(payload) {
      if (closed) return Promise.reject(new Error("worker pool is closed"));
      if (initError) return Promise.reject(initError);
      return new Promise((resolve, reject) => {
        queue.push({ payload, pending: { resolve, reject } });
        dispatch();
      });
    },
    get threads() {
      return threads.length;
    },
    async close() {
      closed = true;
      for (const { pending } of queue.splice(0)) pending.reject(new Error("worker pool closed"));
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}
