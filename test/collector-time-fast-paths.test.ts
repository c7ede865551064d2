import { describe, expect, it } from "vitest";
import { isoUtc } from "../functions/collector/iso-time.js";

describe("isoUtc (the collector's fast toISOString)", () => {
  it("gives exactly what Date.prototype.toISOString gives", () => {
    const edges = [
      0,
      Date.UTC(2000, 0, 1),
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(2027, 0, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10000, 0, 1),
      -1,
      -62198755200000,
      1.5,
    ];
    // Deterministic spread over 2000-2100, millisecond precision (a LCG: no Math.random in tests).
    let seed = 12345;
    const spread = Array.from({ length: 20_000 }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return Date.UTC(2000, 0, 1) + Math.floor((seed / 2 ** 31) * 100 * 365.25 * 86_400_000);
    });
    for (const ms of [...edges, ...spread]) expect(isoUtc(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});
