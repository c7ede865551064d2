/**
 * When to retry a batch and how long to wait: exponential backoff with full jitter (AWS Architecture
 * Blog, "Exponential Backoff and Jitter"), never earlier than the server's Retry-After.
 */

/** What the collector's answer means for the batch. */
export type ResponseVerdict = "delivered" | "retry" | "rejected";

/** 2xx delivered; 429 and 5xx are transient (the contract answers 503 + Retry-After when storage fails); other statuses are final. */
export function verdictForStatus(status: number): ResponseVerdict {
  if (status >= 200 && status < 300) return "delivered";
  if (status === 429 || status >= 500) return "retry";
  return "rejected";
}

/**
 * Delay before retry number `retry` (0 for the first retry): uniformly random in
 * [0, min(maxDelayMs, baseDelayMs * 2^retry)], so many clients that failed together do not come back together.
 */
export function backoffDelayMs(
  retry: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/**
 * Retry-After as milliseconds from `now`: delta-seconds (`120`) or an HTTP-date
 * (`Wed, 21 Oct 2015 07:28:00 GMT`). Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  // HTTP dates always name a day or month; without letters Date.parse would read "-5" as the year -5.
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The wait before a retry: the jittered backoff, but never less than what Retry-After asked for. */
export function retryDelayMs(
  retry: number,
  retryAfterMs: number | undefined,
  policy: { retryBaseDelayMs: number; retryMaxDelayMs: number },
  random = Math.random,
): number {
  const backoff = backoffDelayMs(retry, policy.retryBaseDelayMs, policy.retryMaxDelayMs, random);
  return retryAfterMs === undefined ? backoff : Math.max(retryAfterMs, backoff);
}
