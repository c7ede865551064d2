/** Keys whose values never reach a log line unless the caller says otherwise (matched case-insensitively). */
export const DEFAULT_REDACTED_KEYS = ["password", "authorization", "token", "secret", "email"] as const;

export const REDACTED = "[REDACTED]";

/** Deeper structures are cut here: a log line is no place for them, and it guards against pathological input. */
export const MAX_REDACTION_DEPTH = 32;

/**
 * Returns a copy of `value` where every property whose key is in `keys` (at any depth, in objects and
 * arrays) is replaced by REDACTED. Cycles become "[Circular]". The input is never mutated, so the
 * caller's objects stay as they were.
 */
export function redact(value: unknown, keys: ReadonlySet<string>): unknown {
  if (keys.size === 0) return value;
  return walk(value, keys, 0, new WeakSet());
}

/** Normalizes configured keys for `redact` (lowercase). */
export function redactionKeySet(keys: readonly string[] = DEFAULT_REDACTED_KEYS): ReadonlySet<string> {
  return new Set(keys.map((k) => k.toLowerCase()));
}

function walk(value: unknown, keys: ReadonlySet<string>, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== "object") return value;
  // Dates and Errors are serialized by the logger itself (Errors into name, message, stack).
  if (value instanceof Date || value instanceof Error) return value;
  if (seen.has(value)) return "[Circular]";
  if (depth >= MAX_REDACTION_DEPTH) return "[Truncated]";
  seen.add(value);
  let result: unknown;
  if (Array.isArray(value)) {
    result = value.map((item) => walk(item, keys, depth + 1, seen));
  } else {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = keys.has(k.toLowerCase()) ? REDACTED : walk(v, keys, depth + 1, seen);
    }
    result = out;
  }
  seen.delete(value);
  return result;
}
