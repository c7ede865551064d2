import { HOUR_SETTLE_MS } from "./limits.js";

/**
 * Which raw objects are already compacted. Raw and quarantine keys are partitioned by the hour they
 * were received (`raw/dt=YYYY-MM-DD/hour=HH/<ms>-<request>.ndjson.gz`). Hours before `open_from_hour`
 * are closed: every object in them is compacted, and no new object can appear there (HOUR_SETTLE_MS).
 * For open hours the state lists each consumed key, because an object received earlier may become
 * visible later than one received after it (PutObjects finish out of order). So the planner takes
 * exactly the listed-but-not-consumed keys of open hours: nothing skipped, nothing done twice.
 * The finalizer writes the new state as one PutObject: that write is the run's commit.
 */
export interface CompactionState {
  version: 1;
  /** `YYYY-MM-DDTHH` (UTC): the first hour still open, or null before the first commit (all open). */
  open_from_hour: string | null;
  /** Consumed keys of open hours, by hour prefix (`raw/dt=.../hour=HH/`) -> object names. */
  consumed: Record<string, string[]>;
  last_run: { run_id: string; committed_at: string; objects: number } | null;
}

export const EMPTY_STATE: CompactionState = {
  version: 1,
  open_from_hour: null,
  consumed: {},
  last_run: null,
};

const KEY_PATTERN = /^(.*\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/)([^/]+)$/;

/** Splits a raw or quarantine key into its hour prefix, hour (`YYYY-MM-DDTHH`) and object name. */
export function parseHourKey(key: string): { prefix: string; hour: string; name: string } {
  const match = KEY_PATTERN.exec(key);
  if (!match) throw new Error(`not an hour-partitioned key: ${key}`);
  return { prefix: match[1] as string, hour: `${match[2]}T${match[3]}`, name: match[4] as string };
}

/** The ListObjectsV2 StartAfter that skips closed hours of `zonePrefix` (`raw/` or `quarantine/`). */
export function listStartAfter(zonePrefix: string, state: CompactionState): string | undefined {
  if (!state.open_from_hour) return undefined;
  const [dt, hour] = state.open_from_hour.split("T");
  // Keys of earlier hours sort before this string, keys of this hour after it.
  return `${zonePrefix}dt=${dt}/hour=${hour}/`;
}

export function isConsumed(state: CompactionState, key: string): boolean {
  const { prefix, hour, name } = parseHourKey(key);
  if (state.open_from_hour && hour < state.open_from_hour) return true;
  return state.consumed[prefix]?.includes(name) ?? false;
}

/** An index for many isConsumed() calls. */
export function consumedSet(state: CompactionState): (key: string) => boolean {
  const names = new Map(Object.entries(state.consumed).map(([prefix, list]) => [prefix, new Set(list)]));
  return (key) => {
    const { prefix, hour, name } = parseHourKey(key);
    if (state.open_from_hour && hour < state.open_from_hour) return true;
    return names.get(prefix)?.has(name) ?? false;
  };
}

/**
 * The state after a run: its consumed keys added; hours that ended HOUR_SETTLE_MS before it planned
 * and hold no planned-but-failed key are closed and their key lists dropped.
 */
export function commitState(
  state: CompactionState,
  run: {
    runId: string;
    plannedAt: Date;
    consumedKeys: string[];
    unconsumedKeys: string[];
    committedAt: Date;
  },
): CompactionState {
  const consumed = new Map(Object.entries(state.consumed).map(([prefix, list]) => [prefix, new Set(list)]));
  for (const key of run.consumedKeys) {
    const { prefix, name } = parseHourKey(key);
    const names = consumed.get(prefix) ?? new Set<string>();
    consumed.set(prefix, names);
    names.add(name);
  }
  let openFrom = hourOf(new Date(run.plannedAt.getTime() - HOUR_SETTLE_MS));
  for (const key of run.unconsumedKeys) {
    const { hour } = parseHourKey(key);
    if (hour < openFrom) openFrom = hour;
  }
  // Never reopen a closed hour: its key list is gone, so its objects would look new.
  if (state.open_from_hour && state.open_from_hour > openFrom) openFrom = state.open_from_hour;
  const kept: Record<string, string[]> = {};
  for (const [prefix, names] of [...consumed].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (parseHourKey(`${prefix}x`).hour >= openFrom) kept[prefix] = [...names].sort();
  }
  return {
    version: 1,
    open_from_hour: openFrom,
    consumed: kept,
    last_run: {
      run_id: run.runId,
      committed_at: run.committedAt.toISOString(),
      objects: run.consumedKeys.length,
    },
  };
}

/** `YYYY-MM-DDTHH` of a UTC instant. */
export function hourOf(at: Date): string {
  return at.toISOString().slice(0, 13);
}
