import type { LocalStackCore, LocalStackExtra } from "../../local/stack.js";
import { captureLogLines } from "../../runtime/log-output.js";

/**
 * A local stack extra that runs the collector with its log lines pushed to `lines`, as the local log
 * archive does (with workers too: their lines are replayed through the same wrapper).
 */
export function collectorLineCapture(lines: string[], name = "capture"): LocalStackExtra {
  return {
    name,
    async start(core: LocalStackCore) {
      core.wrapCollector(
        (handler) => (event, context) =>
          captureLogLines(
            (line) => lines.push(line),
            () => handler(event, context),
          ),
      );
      return { close: async () => {} };
    },
  };
}
