/** Every limit the collector enforces, with the reason it has that value. */

/** The contract's body limit (DESIGN.md): well under API Gateway's 10 MB and Lambda's 6 MB payload. */
export const MAX_BODY_BYTES = 1024 * 1024;
/**
 * A batch's own `context` (merged into every event's context, docs/collector.md) is copied onto each
 * stored line: this bound keeps that copy small. A Tracker's is ~70 bytes (library, service, stage).
 */
export const MAX_BATCH_CONTEXT_BYTES = 1024;
/** Also applies to the body AFTER gunzip, so a small gzip bomb cannot inflate past it. */
export const MAX_DECOMPRESSED_BODY_BYTES = MAX_BODY_BYTES;
/** One event's JSON, as sent; larger events are rejected one by one (the rest of the batch still lands). */
export const MAX_EVENT_BYTES = 32 * 1024;
/**
 * Objects/arrays nested deeper than this inside one event are rejected: real analytics properties are
 * shallow, and the conform walk is recursive, so the bound also protects the stack.
 */
export const MAX_NESTING_DEPTH = 16;
/** Event names end up as table names (declared schemas) and Glue allows 255; keep names readable. */
export const MAX_EVENT_NAME_LENGTH = 128;
/** Property keys end up as JSON paths and typed column names. */
export const MAX_PROPERTY_KEY_LENGTH = 128;
/** Client event ids are deduplication keys; longer than a UUID with room for prefixes is suspicious. */
export const MAX_EVENT_ID_LENGTH = 128;
/** user_id / anonymous_id values. */
export const MAX_IDENTITY_LENGTH = 256;
/**
 * Correlation ids (header or an event's `context.correlation_id`) follow ONE rule with the logger and
 * the Tracker: printable ASCII, at most this long; otherwise the request's generated id is used.
 */
export { MAX_CORRELATION_ID_LENGTH } from "../../runtime/correlation-extract.js";
/** A user agent is copied onto every event of the batch; real ones are under 300 characters. */
export const MAX_USER_AGENT_LENGTH = 512;
/**
 * gzip level of raw and quarantine objects. Level 1: raw objects are transient (compaction reads each
 * once, lifecycle rules expire them), and level 1 costs well under half of level 6's CPU for objects
 * about a quarter larger (measured in bench/collector.bench.ts). The Tracker chose the same.
 */
export const RAW_GZIP_LEVEL = 1;
/** Events before this are certainly clock bugs (an unset clock reads 1970). */
export const MIN_EVENT_TIME_MS = Date.UTC(2000, 0, 1);
/** An event may claim to happen at most this far after it was received (after skew correction). */
export const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;
/** Epoch numbers below this are seconds, not milliseconds (1e11 ms is 1973); said in the error. */
export const EPOCH_SECONDS_HINT_BELOW = 1e11;
/** Seconds a client should wait before retrying when storage failed (the Tracker honors it). */
export const RETRY_AFTER_SECONDS = 5;
/** Keys that could reach an object's prototype chain in careless code downstream: never accepted. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);
