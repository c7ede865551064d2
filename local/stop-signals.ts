/**
 * How a foreground local stack (`observatory dev`, `npm start`) stops: on SIGINT (Ctrl-C), SIGTERM
 * (kill), SIGHUP (its terminal or tmux pane closed), or its own output closing (EPIPE: in
 * `npm start | tee log` the same Ctrl-C ends tee first). Each way runs `stop` once, so the stack
 * closes its servers and removes its stack.json; none of them kills the process mid-way.
 */
import { constants } from "node:os";

export const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
/**
 * `npm start` forwards the terminal's SIGINT to its child, which the terminal has signalled already:
 * a repeat this soon is the same Ctrl-C. A later one means "stop now, don't wait".
 */
export const SAME_STOP_WINDOW_MS = 1_000;
/** Write errors on stdout/stderr that mean nobody reads them any more. */
const CLOSED_OUTPUT_CODES = new Set(["EPIPE", "EIO", "ERR_STREAM_DESTROYED"]);

export type StopReason = NodeJS.Signals | "output closed";

/**
 * Waits for the first way of stopping, runs `stop(reason)`, and resolves when it is done. A second
 * signal later than SAME_STOP_WINDOW_MS exits at once (128 + signal number); 'exit' listeners, such as
 * the stack file's (local/stack-file.ts), still run. Output errors stay ignored after the stop, so the
 * last lines written to a closed pipe cannot crash the process.
 */
export function runUntilStopped(stop: (reason: StopReason) => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stoppingSince: number | undefined;
    const begin = (reason: StopReason) => {
      stoppingSince = Date.now();
      stop(reason).finally(() => {
        for (const signal of STOP_SIGNALS) process.removeListener(signal, onSignal);
        resolve();
      });
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (stoppingSince === undefined) return begin(signal);
      if (Date.now() - stoppingSince < SAME_STOP_WINDOW_MS) return;
      process.exit(128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0));
    };
    const onOutputError = (error: NodeJS.ErrnoException) => {
      if (!CLOSED_OUTPUT_CODES.has(error.code ?? "")) throw error;
      if (stoppingSince === undefined) begin("output closed");
    };
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
    process.stdout.on("error", onOutputError);
    process.stderr.on("error", onOutputError);
  });
}
