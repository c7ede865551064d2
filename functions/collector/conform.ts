import { snakeCase } from "change-case";
import { MAX_NESTING_DEPTH, MAX_PROPERTY_KEY_LENGTH, RESERVED_KEYS } from "./limits.js";

/**
 * Conform: event names and property keys become lowercase snake_case so that every producer's
 * `userId`, `UserID` and `user id` meet in one column. Keys are conformed at EVERY depth of
 * `properties` and `context` (objects inside arrays too): one naming rule for every JSON path a
 * query may use. Values are never touched.
 */

/** Conformed names are cached: producers send the same few keys millions of times. */
const NAME_CACHE_LIMIT = 10_000;
const nameCache = new Map<string, string>();

/**
 * The last few names looked up, checked before the Map: an event name comes fresh from JSON.parse
 * (names over 10 characters are not internalized), so a Map lookup first hashes it, while comparing
 * with the few names a producer sends is a length check and a short compare (a batch holds few names).
 */
const RECENT_NAMES = 4;
const recentNames: string[] = [];
const recentConformed: string[] = [];
let nextRecent = 0;

/** `Downloaded img` -> `downloaded_img`, `userId` -> `user_id`, `búsqueda` -> `busqueda`; may return "". */
export function conformName(name: string): string {
  for (let i = 0; i < recentNames.length; i++) if (recentNames[i] === name) return recentConformed[i]!;
  const conformed = conformedName(name);
  recentNames[nextRecent] = name;
  recentConformed[nextRecent] = conformed;
  nextRecent = (nextRecent + 1) % RECENT_NAMES;
  return conformed;
}

function conformedName(name: string): string {
  const cached = nameCache.get(name);
  if (cached !== undefined) return cached;
  const conformed = snakeCase(name.normalize("NFKD").replace(/\p{M}/gu, ""))
    .replace(/[^a-z0-9_]+/g, "_")
    .replace(/_+/g, "_")
    .replace(/^_|_$/g, "");
  if (nameCache.size >= NAME_CACHE_LIMIT) nameCache.clear();
  nameCache.set(name, conformed);
  return conformed;
}

/** True unless the string holds an unpaired UTF-16 surrogate (which is not valid Unicode, nor UTF-8). */
export function isWellFormed(text: string): boolean {
  // ES2024's String.prototype.isWellFormed (Node 20+): native, about 4x faster than a /\p{Cs}/u test,
  // and it runs on every key and string value. The ES2023 lib does not declare it yet.
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * While walking, an upper bound of the tree's JSON size in bytes is summed, so the per-event size
 * limit needs an exact (costly) JSON.stringify only for events that might exceed it. A UTF-16 unit
 * takes at most 6 bytes in JSON (`\u001f`), any number or literal at most 24, punctuation 4 per member.
 */
export interface SizeBound {
  bytes: number;
}
const MAX_JSON_BYTES_PER_CHAR = 6;
const MAX_JSON_BYTES_PER_SCALAR = 24;
const JSON_BYTES_PER_MEMBER = 4;
/** A string's quotes and the comma after it (in an array nothing else counts the comma). */
const JSON_BYTES_PER_STRING = 3;

/**
 * Conforms the keys of a JSON object tree. Every problem is pushed to `errors` with its path.
 * Copy on write: an object whose keys are all snake_case already (the common case: the Tracker's
 * users mostly send conformed names) is returned as parsed, which saves an allocation per object and
 * keeps JSON.parse's fast object shapes for the JSON.stringify of the stored line.
 */
export function conformKeys(
  value: Record<string, unknown>,
  path: string,
  errors: string[],
  size: SizeBound,
): Record<string, JsonValue> {
  return conformObject(value, path, 1, errors, size);
}

function conformObject(
  value: Record<string, unknown>,
  path: string,
  depth: number,
  errors: string[],
  size: SizeBound,
): Record<string, JsonValue> {
  // A plain object is safe here: `__proto__` is refused below and conformName() can never produce it
  // (leading underscores are dropped), so no assignment reaches a prototype. Null-prototype objects
  // would be dictionary-mode in V8 and slow down the JSON.stringify of every stored line.
  let out: Record<string, JsonValue> | undefined;
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    size.bytes += key.length * MAX_JSON_BYTES_PER_CHAR + JSON_BYTES_PER_MEMBER;
    // A key seen before and found good skips the checks below: one lookup instead of four.
    const name = acceptedKeys.get(key) ?? checkedKeyName(key, path, errors);
    if (name === undefined) continue;
    const child = value[key];
    const conformed = conformValue(child, path, name, depth, errors, size);
    if (out === undefined && (name !== key || conformed !== child)) out = copyOf(value, keys, i);
    if (out !== undefined) {
      if (Object.hasOwn(out, name)) {
        const earlier = keys.find((k) => k !== key && conformName(k) === name);
        errors.push(
          `${path}: keys ${JSON.stringify(earlier)} and ${JSON.stringify(key)} both conform to ${JSON.stringify(name)}`,
        );
        continue;
      }
      out[name] = conformed;
    }
  }
  return out ?? (value as Record<string, JsonValue>);
}

/** Keys that passed every check of checkedKeyName, with their conformed names (bounded like the name cache). */
const acceptedKeys = new Map<string, string>();

/** The conformed name of `key`, or undefined with the reason pushed to `errors`. */
function checkedKeyName(key: string, path: string, errors: string[]): string | undefined {
  if (RESERVED_KEYS.has(key)) {
    errors.push(
      `${path}.${key}: key ${JSON.stringify(key)} is not allowed (reserved to guard against prototype pollution)`,
    );
    return undefined;
  }
  if (!isWellFormed(key)) {
    errors.push(`${path}: a key contains an unpaired UTF-16 surrogate (not valid Unicode)`);
    return undefined;
  }
  const name = conformName(key);
  if (name === "") {
    errors.push(`${path}.${key}: key ${JSON.stringify(key)} is empty after conforming to snake_case`);
    return undefined;
  }
  if (name.length > MAX_PROPERTY_KEY_LENGTH) {
    errors.push(
      `${path}: key ${JSON.stringify(name.slice(0, 40))}... is ${name.length} characters; the limit is ${MAX_PROPERTY_KEY_LENGTH}`,
    );
    return undefined;
  }
  if (acceptedKeys.size >= NAME_CACHE_LIMIT) acceptedKeys.clear();
  acceptedKeys.set(key, name);
  return name;
}

/** The first `count` members of `value`, whose keys were conformed already (they are unchanged). */
function copyOf(value: Record<string, unknown>, keys: string[], count: number): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (let i = 0; i < count; i++) {
    const key = keys[i]!;
    if (!RESERVED_KEYS.has(key)) out[key] = value[key] as JsonValue;
  }
  return out;
}

/** `segment` is a key (`path.key`) or an array index (`path[i]`); the path string is built only when needed. */
function conformValue(
  value: unknown,
  parentPath: string,
  segment: string | number,
  depth: number,
  errors: string[],
  size: SizeBound,
): JsonValue {
  if (typeof value === "string") {
    size.bytes += value.length * MAX_JSON_BYTES_PER_CHAR + JSON_BYTES_PER_STRING;
    if (!isWellFormed(value))
      errors.push(
        `${join(parentPath, segment)}: string contains an unpaired UTF-16 surrogate (not valid Unicode)`,
      );
    return value;
  }
  if (value === null || typeof value === "number" || typeof value === "boolean") {
    size.bytes += MAX_JSON_BYTES_PER_SCALAR;
    return value;
  }
  size.bytes += JSON_BYTES_PER_MEMBER;
  const path = join(parentPath, segment);
  if (depth >= MAX_NESTING_DEPTH) {
    errors.push(`${path}: nested deeper than ${MAX_NESTING_DEPTH} levels`);
    return null;
  }
  if (Array.isArray(value)) return conformArray(value, path, depth + 1, errors, size);
  // JSON.parse yields nothing else; anything else is a programming error upstream.
  return conformObject(value as Record<string, unknown>, path, depth + 1, errors, size);
}

function conformArray(
  value: unknown[],
  path: string,
  depth: number,
  errors: string[],
  size: SizeBound,
): JsonValue[] {
  let out: JsonValue[] | undefined;
  for (let i = 0; i < value.length; i++) {
    const item = value[i];
    const conformed = conformValue(item, path, i, depth, errors, size);
    if (out === undefined && conformed !== item) out = value.slice(0, i) as JsonValue[];
    if (out !== undefined) out.push(conformed);
  }
  return out ?? (value as JsonValue[]);
}

function join(path: string, segment: string | number): string {
  return typeof segment === "number" ? `${path}[${segment}]` : `${path}.${segment}`;
}
