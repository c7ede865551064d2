// Bootstrap of one worker thread of worker-pool.ts. Plain JavaScript because a thread does not inherit
// the parent's TypeScript loader: it registers tsx itself, then loads the TypeScript setup module,
// whose createHandler(options) returns the function this thread runs for each invocation.
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
const setup = await import(workerData.setupModule);
const handler = await setup.createHandler(workerData.options);

parentPort.on("message", async ({ payload }) => {
  try {
    const result = await handler(payload);
    parentPort.postMessage({ ok: true, result: result === undefined ? null : result });
  } catch (error) {
    // Name and message are what Step Functions sees of a Lambda error (errorType, errorMessage).
    const e = error instanceof Error ? error : new Error(String(error));
    parentPort.postMessage({ ok: false, error: { name: e.name, message: e.message } });
  }
});
parentPort.postMessage({ ready: true });
