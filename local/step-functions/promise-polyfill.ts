/**
 * aws-local-stepfunctions v3 calls `Promise.withResolvers` (ES2024, Node >= 22) in every Task state;
 * Node 20 lacks it. This installs a spec-faithful polyfill (ECMA-262 Promise.withResolvers: a new
 * PromiseCapability of `this`) when missing, and says so on stderr once, when the first local
 * execution starts (not on every CLI command that merely loads the runner), so nobody wonders why.
 * Import it before aws-local-stepfunctions (state-machine.ts does).
 */

interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

function withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
  // The spec uses NewPromiseCapability(C) with C = this, so subclasses get their own kind of promise.
  if (typeof this !== "function") throw new TypeError("Promise.withResolvers called on a non-constructor");
  let resolve!: Resolvers<T>["resolve"];
  let reject!: Resolvers<T>["reject"];
  const promise = new this<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const native = typeof (Promise as { withResolvers?: unknown }).withResolvers === "function";

/** True when this process runs on the polyfill (Node < 22). */
export const PROMISE_WITH_RESOLVERS_POLYFILLED = !native;

if (!native) {
  Object.defineProperty(Promise, "withResolvers", {
    value: withResolvers,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}

let announced = false;

/** Called as a local execution starts: tells the user, once, that the runner depends on the polyfill. */
export function announcePromisePolyfill(): void {
  if (native || announced || process.env.OBSERVATORY_QUIET_POLYFILL) return;
  announced = true;
  process.stderr.write(
    `[observatory] Node ${process.versions.node} lacks Promise.withResolvers: polyfill active for aws-local-stepfunctions\n`,
  );
}
