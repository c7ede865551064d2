// The module each worker thread of worker-pool.ts (piscina) runs. Plain JavaScript because a thread
// does not inherit the parent's TypeScript loader: it registers tsx itself, then loads the TypeScript
// setup module, whose createHandler(options) returns the function run for each invocation.
import { workerData } from "piscina";
import { register } from "tsx/esm/api";

register();
/** A setup that fails is reported by every invocation, as a Lambda whose module does not load. */
let handler;
let setupError;
try {
  const setup = await import(workerData.setupModule);
  handler = await setup.createHandler(workerData.options);
} catch (error) {
  setupError = {
    name: "Runtime.ImportModuleError",
    message: `worker setup failed: ${error?.message ?? error}`,
  };
}

/**
 * One invocation. The outcome travels as plain data: a structured clone keeps an Error's name only
 * for the built-in error types, and the name (`TransientError`) is what Retry matches.
 */
export default async function invoke(payload) {
  if (setupError) return { ok: false, error: setupError };
  try {
    const result = await handler(payload);
    return { ok: true, result: result === undefined ? null : result };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    return { ok: false, error: { name: e.name, message: e.message } };
  }
}
