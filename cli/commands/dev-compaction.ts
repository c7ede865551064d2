/** The `--compact-every` option of `observatory dev` (see local/compaction-schedule.ts). */
import { Option } from "commander";
import { compactionSchedule, DEFAULT_COMPACT_EVERY, parseDuration } from "../../local/compaction-schedule.js";
import type { DevExtension } from "./dev.js";

export const compactionDevExtension: DevExtension = {
  options: [
    new Option(
      "--compact-every <duration>",
      "run the compaction job on this schedule (30s, 5m, 1h; off to disable)",
    )
      .default(DEFAULT_COMPACT_EVERY)
      .argParser((value) => {
        parseDuration(value); // fail at parse time with a clear message
        return value;
      }),
  ],
  extra(options) {
    const everyMs = parseDuration(String(options.compactEvery ?? DEFAULT_COMPACT_EVERY));
    return everyMs === undefined ? undefined : compactionSchedule({ everyMs });
  },
};
