/**
 * Debug sampling decided per correlation ID: every service hashes the same ID the same way, so a
 * request is either logged at debug level in all of its services or in none - never one hop of it.
 */

/** FNV-1a (32 bit): fast, stable across processes and languages, good enough spread for sampling. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** True when the request with this correlation ID falls inside `rate` (0..1). */
export function isDebugSampled(correlationId: string | undefined, rate: number): boolean {
  if (!(rate > 0) || correlationId === undefined) return false;
  if (rate >= 1) return true;
  return fnv1a(correlationId) / 0x100000000 < rate;
}
