// The Tracker's retry rules: which statuses retry, Retry-After parsing, full-jitter backoff bounds.
import { describe, expect, it } from "vitest";
import {
  backoffDelayMs,
  parseRetryAfterMs,
  retryDelayMs,
  verdictForStatus,
} from "../runtime/retry-policy.js";

describe("retry policy", () => {
  it("retries 429 and 5xx only", () => {
    expect([200, 202, 400, 401, 403, 413, 415, 429, 500, 502, 503].map(verdictForStatus)).toEqual([
      "delivered",
      "delivered",
      "rejected",
      "rejected",
      "rejected",
      "rejected",
      "rejected",
      "retry",
      "retry",
      "retry",
      "retry",
    ]);
  });

  it("reads Retry-After as seconds or as an HTTP date, and ignores garbage", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfterMs("2", now)).toBe(2000);
    expect(parseRetryAfterMs(" 0.5 ", now)).toBe(500);
    expect(parseRetryAfterMs("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfterMs("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfterMs("soon", now)).toBeUndefined();
    expect(parseRetryAfterMs("-5", now)).toBeUndefined();
    expect(parseRetryAfterMs(null, now)).toBeUndefined();
    expect(parseRetryAfterMs("", now)).toBeUndefined();
  });

  it("draws the backoff uniformly under a doubling, capped ceiling (full jitter)", () => {
    const top = () => 0.999_999;
    expect([0, 1, 2, 3, 10].map((retry) => backoffDelayMs(retry, 100, 1_000, top))).toEqual([
      99, 199, 399, 799, 999,
    ]);
    expect(backoffDelayMs(3, 100, 1_000, () => 0)).toBe(0);
  });

  it("never waits less than Retry-After", () => {
    const policy = { retryBaseDelayMs: 100, retryMaxDelayMs: 1_000 };
    expect(retryDelayMs(0, 5_000, policy, () => 0.5)).toBe(5_000);
    expect(retryDelayMs(3, 10, policy, () => 0.5)).toBe(400);
    expect(retryDelayMs(0, undefined, policy, () => 0.5)).toBe(50);
  });
});
