import { CORRELATION_HEADER, currentCorrelationId } from "./correlation-context.js";

/**
 * A fetch that adds `x-correlation-id` (the current request's ID) to every outgoing request that does
 * not set one itself, so the next service continues the same trace.
 */
export function correlatedFetch(baseFetch: typeof fetch = globalThis.fetch): typeof fetch {
  return (input, init) => {
    const id = currentCorrelationId();
    if (id === undefined) return baseFetch(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (!headers.has(CORRELATION_HEADER)) headers.set(CORRELATION_HEADER, id);
    return baseFetch(input, { ...init, headers });
  };
}
