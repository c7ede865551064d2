/**
 * How a foreground local stack (`observatory dev`, `npm start`) stops: on SIGINT (Ctrl-C), SIGTERM
 * (kill), SIGHUP (its terminal or tmux pane closed), or its own output closing (EPIPE: in
 * `npm start | tee log` the same Ctrl-C ends tee first). Each way is one orderly stop, so the stack
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

export interface StopListener {
  /** The first way of stopping that happened. */
  reason: Promise<StopReason>;
  /**
   * Signals get their default effect again - unless a stop has begun: then the listeners stay for
   * the rest of the process (they do not keep it alive), so that a repeated Ctrl-C while it winds
   * down after the stack closed is still the same stop, not a kill.
   */
  dispose(): void;
}

/**
 * Starts listening for the ways of stopping. Call it BEFORE starting the stack: a signal that
 * arrives while the stack starts (or just after its banner is printed) must not kill the process
 * between writing stack.json and being ready to remove it. A second signal later than
 * SAME_STOP_WINDOW_MS exits at once (128 + signal number); 'exit' listeners, such as the stack
 * file's (local/stack-file.ts), still run. Output errors stay ignored after dispose(), so the last
 * lines written to a closed pipe cannot crash the process.
 */
export function listenForStop(): StopListener {
  let stoppingSince: number | undefined;
  let resolveReason!: (reason: StopReason) => void;
  const reason = new Promise<StopReason>((resolve) => {
    resolveReason = resolve;
  });
  const begin = (why: StopReason) => {
    stoppingSince = Date.now();
    resolveReason(why);
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
  return {
    reason,
    dispose: () => {
      if (stoppingSince !== undefined) return;
      for (const signal of STOP_SIGNALS) process.removeListener(signal, onSignal);
    },
  };
}
