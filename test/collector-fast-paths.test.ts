import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { conformName, type JsonValue } from "../functions/collector/conform.js";
import { parseInstant } from "../functions/collector/event-time.js";
import { isoUtc } from "../functions/collector/iso-time.js";
import {
  EVENT_ENVELOPE,
  EventValidator,
  isEnvelopeKey,
  surelyValidEnvelope,
} from "../functions/collector/validate.js";

/** Deterministic instants spread over 2000-2100, millisecond precision (an LCG: no Math.random in tests). */
function spreadInstants(count: number): number[] {
  let seed = 12345;
  return Array.from({ length: count }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Date.UTC(2000, 0, 1) + Math.floor((seed / 2 ** 31) * 100 * 365.25 * 86_400_000);
  });
}

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
    for (const ms of [...edges, ...spreadInstants(20_000)])
      expect(isoUtc(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});

describe("parseInstant's fast path for toISOString text", () => {
  it("reads the same instant as Date.parse", () => {
    const texts = [...spreadInstants(20_000), Date.UTC(150, 2, 1), -60589296000000].map((ms) =>
      new Date(ms).toISOString(),
    );
    for (const text of texts) expect(parseInstant(text, "timestamp"), text).toEqual({ ms: Date.parse(text) });
  });

  it("reads texts of the hours it read recently as Date.parse does, and refuses the malformed ones among them", () => {
    const hour = Date.UTC(2026, 10, 22, 23);
    // Dense texts within six hours (more than it remembers), read in turn: most share a recent hour.
    const texts = Array.from({ length: 5_000 }, (_, i) =>
      new Date(hour + ((i * 7_919_393) % (6 * 3_600_000))).toISOString(),
    );
    for (const text of texts) expect(parseInstant(text, "timestamp"), text).toEqual({ ms: Date.parse(text) });
    // Right after a text of 23h: tails that are not canonical go to the paths that read or refuse them.
    const bad = [
      "2026-11-22T23:60:00.000Z",
      "2026-11-22T23:59:60.000Z",
      "2026-11-22T23:5x:00.000Z",
      "2026-11-22T23:59:5٣.000Z",
      "2026-11-22T23:59:59-000Z",
      "2026-11-22T23:59;59.000Z",
    ];
    for (const text of bad) {
      expect(parseInstant("2026-11-22T23:00:00.000Z", "timestamp")).toEqual({ ms: hour });
      expect(parseInstant(text, "timestamp"), text).toHaveProperty("error");
    }
    for (const text of [
      "2026-11-22T23:59:59.000z",
      "2026-11-22T23:59:59.0001Z",
      "2026-11-22T23:59:59.000+00:00",
    ]) {
      expect(parseInstant("2026-11-22T23:00:00.000Z", "timestamp")).toEqual({ ms: hour });
      expect(parseInstant(text, "timestamp"), text).toEqual({ ms: Date.parse(text) });
    }
  });

  it("still refuses impossible calendar dates and times", () => {
    for (const text of [
      "2026-02-29T00:00:00.000Z",
      "2026-04-31T10:00:00.000Z",
      "2026-13-01T00:00:00.000Z",
      "2026-00-10T00:00:00.000Z",
      "2026-01-01T24:00:00.000Z",
      "2026-01-01T23:60:00.000Z",
      "2026-01-01T23:59:60.000Z",
    ]) {
      expect(parseInstant(text, "timestamp")).toEqual({
        error: `timestamp "${text}" is not a real date-time`,
      });
    }
    expect(parseInstant("2024-02-29T12:00:00.000Z", "timestamp")).toEqual({ ms: Date.UTC(2024, 1, 29, 12) });
  });
});

describe("raw line encoder's string fast path", () => {
  it("quotes ids and identities exactly as JSON.stringify does", async () => {
    const { rawRecordEncoder, toRawRecord } = await import("../functions/collector/enrich.js");
    const now = new Date(Date.UTC(2026, 10, 22, 15));
    const facts = {
      receivedAt: now,
      receivedAtIso: now.toISOString(),
      requestId: "r",
      correlationId: "c",
      correlationFromHeader: true,
      userAgent: "ua",
      ip: null,
      service: null,
      stage: "dev",
    };
    const encode = rawRecordEncoder(facts);
    const texts = [
      "plain",
      "",
      'quote"d',
      "back\\slash",
      "tab\there",
      "nul\u0000",
      "\u001f",
      "\u007f",
      "é日本",
      "😀",
      "\u2028",
      "\ud800lone",
      "lone\udfff",
    ];
    for (const text of texts) {
      const event = {
        eventId: text,
        event: "e",
        eventTimeMs: now.getTime(),
        userId: text,
        anonymousId: null,
        properties: {},
        context: { service: text || "s", stage: text },
        schemaVersion: null,
      };
      expect(encode(event), JSON.stringify(text)).toBe(JSON.stringify(toRawRecord(event, facts)));
      const declared = { ...event, schemaVersion: 3 };
      expect(encode(declared)).toBe(JSON.stringify(toRawRecord(declared, facts)));
      // The other identities: anonymous only, and both.
      for (const [userId, anonymousId] of [
        [null, text],
        [text, "anon"],
      ] as const) {
        const other = { ...event, userId, anonymousId };
        expect(encode(other), JSON.stringify([userId, anonymousId])).toBe(
          JSON.stringify(toRawRecord(other, facts)),
        );
      }
    }
  });
});

describe("raw line encoder's reuse of the previous event's context", () => {
  it("writes every line exactly as JSON.stringify(toRawRecord) whatever the sequence of contexts", async () => {
    const { rawRecordEncoder, toRawRecord } = await import("../functions/collector/enrich.js");
    const now = new Date(Date.UTC(2026, 10, 22, 15));
    const facts = {
      receivedAt: now,
      receivedAtIso: now.toISOString(),
      requestId: "req-1",
      correlationId: "corr-1",
      correlationFromHeader: false,
      userAgent: "observatory-tracker/0.1.0",
      ip: "203.0.113.9",
      service: "collector",
      stage: "dev",
    };
    const library = { name: "observatory-tracker", version: "0.1.0" };
    // Each context is a fresh object (as JSON.parse gives), equal or not to the one before in a new way.
    const contexts: Record<string, JsonValue>[] = [
      { library: { ...library }, service: "gallery" },
      { library: { ...library }, service: "gallery" },
      { service: "gallery", library: { ...library } },
      { service: "gallery", library: { ...library, version: "0.1.1" } },
      { service: "gallery", library: { ...library } },
      { service: "gallery", library: { ...library }, extra: null },
      { service: "gallery", library: { ...library }, extra: 0 },
      { service: "gallery", library: { ...library }, extra: [1, { a: "b" }] },
      { service: "gallery", library: { ...library }, extra: [1, { a: "c" }] },
      { service: "gallery", library: { ...library }, extra: [1, { a: "c" }, 2] },
      { service: "gallery", library: { ...library }, extra: [1, { a: "c" }] },
      { service: "gallery", library: { ...library }, extra: { 0: 1 } },
      { service: "gallery", library: { ...library }, extra: "1" },
      { correlation_id: "a-1" },
      { correlation_id: "a-2" },
      { correlation_id: "a-2", ip: "198.51.100.1" },
      { correlation_id: "a-2", ip: "198.51.100.2" },
      { correlation_id: "not an id" },
      { correlation_id: "not an id", stage: "" },
      { correlation_id: 'q"uote', stage: "prod", service: "search" },
      {},
      {},
    ];
    const encode = rawRecordEncoder(facts);
    contexts.forEach((context, i) => {
      const event = {
        eventId: `e-${i}`,
        event: "image_viewed",
        eventTimeMs: now.getTime() - i,
        userId: "u-1",
        anonymousId: null,
        properties: { i },
        context,
        schemaVersion: null,
      };
      expect(encode(event), `event ${i}`).toBe(JSON.stringify(toRawRecord(event, facts)));
    });
  });
});

describe("raw line encoder on a server's mixed batch", () => {
  it("stays exact while it stops and resumes comparing contexts", async () => {
    const { rawRecordEncoder, toRawRecord } = await import("../functions/collector/enrich.js");
    const now = new Date(Date.UTC(2026, 10, 22, 19));
    const facts = {
      receivedAt: now,
      receivedAtIso: now.toISOString(),
      requestId: "req-2",
      correlationId: "corr-2",
      correlationFromHeader: false,
      userAgent: "observatory-tracker/0.1.0",
      ip: "203.0.113.9",
      service: null,
      stage: null,
    };
    const encode = rawRecordEncoder(facts);
    // 100 events of interleaved requests (every context differs from the one before: comparing pauses),
    // then 100 of one request (equal contexts: comparing resumes), then interleaved again.
    const correlation = (i: number) => (i >= 100 && i < 200 ? "req-one" : `req-${i % 7}`);
    for (let i = 0; i < 300; i++) {
      const event = {
        eventId: `e-${i}`,
        event: "image_viewed",
        eventTimeMs: now.getTime() - i,
        userId: `u-${i % 3}`,
        anonymousId: null,
        properties: { i },
        context: {
          library: { name: "observatory-tracker", version: "0.1.0" },
          correlation_id: correlation(i),
        },
        schemaVersion: null,
      };
      expect(encode(event), `event ${i}`).toBe(JSON.stringify(toRawRecord(event, facts)));
    }
  });
});

describe("the envelope's hand-checked fast path", () => {
  it("never accepts an event that ajv's envelope schema refuses", () => {
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    const envelope = ajv.compile(EVENT_ENVELOPE);
    const long = (n: number) => "x".repeat(n);
    // A pair of UTF-16 units per code point: over the limit in length, within it in code points.
    const astral = (n: number) => "😀".repeat(n);
    const values: Record<string, unknown[]> = {
      event: [undefined, "", "a", long(256), long(257), astral(200), 5, null, ["a"], {}],
      properties: [undefined, {}, { a: 1 }, [], null, "x", 3],
      context: [undefined, {}, { library: { name: "t" } }, [], null, true],
      user_id: [undefined, "", "u1", 42, long(1024), long(1025), astral(600), null, [], {}],
      anonymous_id: [undefined, "a1", 7.5, "", null, long(1025)],
      event_id: [undefined, "", "e-1", long(128), long(129), astral(100), 12, null],
      timestamp: [undefined, "2026-01-01T00:00:00.000Z", 1_700_000_000_000, null, {}, true],
      sent_at: [undefined, "not checked here", 5, null, []],
    };
    const keys = Object.keys(values);
    let fastAccepted = 0;
    let seed = 7;
    const pick = <T>(items: T[]) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return items[seed % items.length]!;
    };
    for (let i = 0; i < 20_000; i++) {
      const input: Record<string, unknown> = {};
      for (const key of keys) {
        const value = pick(values[key]!);
        if (value !== undefined) input[key] = value;
      }
      if (i % 10 === 0) input[pick(["extra", "userId", "__proto__x", "type"])] = 1;
      if (surelyValidEnvelope(input)) {
        fastAccepted++;
        expect(envelope(input), JSON.stringify(input).slice(0, 200)).toBe(true);
      }
    }
    // The fast path must also be taken: a check that never says yes would pass the loop above.
    expect(fastAccepted).toBeGreaterThan(100);
    expect(surelyValidEnvelope({ event: "e", user_id: "u", properties: {}, context: {} })).toBe(true);
  });
});

describe("the envelope's key check", () => {
  it("accepts exactly EVENT_ENVELOPE's properties", () => {
    for (const key of Object.keys(EVENT_ENVELOPE.properties)) expect(isEnvelopeKey(key), key).toBe(true);
    for (const key of ["", "events", "Event", "userId", "__proto__", "constructor", "batch", "event "])
      expect(isEnvelopeKey(key), key).toBe(false);
  });
});

describe("conformName's recent names", () => {
  it("answers every name as conformed, in any order, more names than it remembers", () => {
    const expected: Record<string, string> = {
      "Downloaded img": "downloaded_img",
      downloadedImg: "downloaded_img",
      downloaded_img: "downloaded_img",
      userId: "user_id",
      UserID: "user_id",
      búsqueda: "busqueda",
      search_made: "search_made",
      "!!!": "",
      a: "a",
    };
    const names = Object.keys(expected);
    let seed = 3;
    for (let i = 0; i < 2_000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      // A fresh string each time, as JSON.parse gives.
      const name = JSON.parse(JSON.stringify(names[seed % names.length]!)) as string;
      expect(conformName(name), name).toBe(expected[name]);
    }
  });
});

describe("the validator's timestamp reuse", () => {
  it("gives every event the verdict a fresh validator gives, whatever repeats", () => {
    const stamps = [
      "2026-11-22T10:00:00.000Z",
      "2026-11-22T10:00:00.000Z",
      "2026-11-22T10:00:00.001Z",
      "2026-02-31T10:00:00.000Z",
      "2026-02-31T10:00:00.000Z",
      1_795_000_000_000,
      "2026-11-22T10:00:00.000Z",
      "nonsense",
      "nonsense",
      "2026-11-22T10:00:00.001Z",
    ];
    const receivedAt = Date.parse("2026-11-22T10:00:05.000Z");
    const shared = new EventValidator();
    const verdicts = stamps.map((timestamp) => ({
      reused: shared.check(
        { event: "e", user_id: "u", event_id: "id", timestamp },
        undefined,
        receivedAt,
        100,
      ),
      fresh: new EventValidator().check(
        { event: "e", user_id: "u", event_id: "id", timestamp },
        undefined,
        receivedAt,
        100,
      ),
    }));
    for (const { reused, fresh } of verdicts) expect(reused).toEqual(fresh);
    expect(verdicts.filter((v) => v.reused.ok).length).toBe(6);
  });
});

describe("the validator's reuse of the previous event's context", () => {
  it("gives every event the verdict a fresh validator gives, whatever the sequence of contexts", () => {
    const library = { name: "observatory-tracker", version: "0.1.0" };
    const big = "x".repeat(30_000);
    // Each context is a fresh object (as JSON.parse gives), equal or not to the one before in a new way.
    const contexts: (Record<string, unknown> | undefined)[] = [
      { library: { ...library } },
      { library: { ...library } },
      { library: { ...library }, service: "gallery" },
      { service: "gallery", library: { ...library } },
      { Service: "gallery", libraryInfo: { ...library } },
      { Service: "gallery", libraryInfo: { ...library } },
      { library: { ...library }, bad: "lone\ud800" },
      { library: { ...library }, bad: "lone\ud800" },
      { library: { ...library }, "!!": 1 },
      { library: { ...library }, "!!": 1 },
      JSON.parse('{"__proto__": 1}') as Record<string, unknown>,
      JSON.parse('{"__proto__": 1}') as Record<string, unknown>,
      { library: { ...library }, a: 1, A: 2 },
      { library: { ...library }, a: 1, A: 2 },
      // Over the per-event size limit only with the context's bytes counted: reuse must count them too.
      { note: big },
      { note: big },
      { library: { ...library }, extra: [1, { a: "b" }] },
      { library: { ...library }, extra: [1, { a: "c" }] },
      undefined,
      undefined,
      {},
      // A server's mix: every context differs from the one before, so comparing pauses and resumes.
      ...Array.from({ length: 120 }, (_, i) => ({ library: { ...library }, correlation_id: `req-${i % 7}` })),
      ...Array.from({ length: 30 }, () => ({ library: { ...library }, correlation_id: "req-one" })),
      { library: { ...library }, bad: "lone\udfff" },
      { library: { ...library }, correlation_id: "req-one" },
    ];
    const receivedAt = Date.parse("2026-11-22T10:00:05.000Z");
    const shared = new EventValidator();
    const event = (context: Record<string, unknown> | undefined, i: number) => ({
      event: "image_viewed",
      user_id: "u",
      event_id: `e-${i}`,
      properties: { i, text: big.slice(0, 4_000) },
      ...(context === undefined ? {} : { context }),
    });
    let accepted = 0;
    contexts.forEach((context, i) => {
      const reused = shared.check(event(context, i), undefined, receivedAt, 1_000_000);
      const fresh = new EventValidator().check(event(context, i), undefined, receivedAt, 1_000_000);
      expect(reused, `event ${i}`).toEqual(fresh);
      if (reused.ok) accepted++;
    });
    // Both kinds of verdict occur: a check that refused (or accepted) everything would pass the loop.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(contexts.length - 8);
  });
});
