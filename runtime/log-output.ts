import { AsyncLocalStorage } from "node:async_hooks";
import { Writable } from "node:stream";

/**
 * Where log lines go. In Lambda that is stdout (the runtime ships it to CloudWatch Logs). Locally a
 * handler runs inside `captureLogLines` and its lines go to the capture instead, which delivers them
 * to the log consumer in the subscription payload shape - the same path as on AWS.
 */
export type LogLineSink = (line: string) => void;

const captureStorage = new AsyncLocalStorage<LogLineSink>();

/** Runs `fn` with every log line written by an Observatory logger inside it handed to `sink`. */
export function captureLogLines<T>(sink: LogLineSink, fn: () => T): T {
  return captureStorage.run(sink, fn);
}

/** The capture active in the current async context, if any. */
export function activeLogCapture(): LogLineSink | undefined {
  return captureStorage.getStore();
}

/**
 * A stream that writes each line to the active capture when there is one, else to `fallback`
 * (process.stdout by default). Writes are synchronous calls from Console, so the async context of the
 * logging code is still the current one here.
 */
export class RoutedLogStream extends Writable {
  constructor(private readonly fallback: NodeJS.WritableStream = process.stdout) {
    super({ decodeStrings: false });
  }

  override write(chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean {
    const sink = captureStorage.getStore();
    if (sink) {
      const text = String(chunk);
      sink(text.endsWith("\n") ? text.slice(0, -1) : text);
      const cb = typeof encodingOrCallback === "function" ? encodingOrCallback : callback;
      if (typeof cb === "function") (cb as () => void)();
      return true;
    }
    return (this.fallback.write as (c: unknown, e?: unknown, cb?: unknown) => boolean)(
      chunk,
      encodingOrCallback,
      callback,
    );
  }
}

/** A stream that discards everything (benchmarks, tests that only count). */
export function nullStream(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}
