// The corpus of bad inputs: each gets the right status and a clear error, each is quarantined with
// its reasons and original payload, none crashes the handler. Runs against a real local S3 (s3rver).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { quarantineObjectKey, rawObjectKey } from "../contracts/storage-layout.js";
import { createCollector } from "../functions/collector/handler.js";
import {
  MAX_BATCH_CONTEXT_BYTES,
  MAX_BODY_BYTES,
  MAX_EVENT_BYTES,
  MAX_NESTING_DEPTH,
} from "../functions/collector/limits.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { httpApiEvent, readNdjsonObject } from "./collector-helpers.js";

const NOW = new Date("2026-11-22T15:30:00.000Z");
const GOOD = { event: "page_viewed", user_id: "u-good" };

/** A whole body the collector must refuse: status, error pattern, the body as sent. */
interface BodyCase {
  name: string;
  body: string | Buffer;
  headers?: Record<string, string>;
  status: 400 | 413 | 415;
  error: RegExp;
  /** What quarantine keeps when not the body as sent (a gzip body that inflated fine: the inflated text). */
  kept?: Buffer;
}

/** One bad event inside an otherwise good batch: 200, that event rejected. `event` is JSON text so any shape is possible. */
interface EventCase {
  name: string;
  event: string;
  error: RegExp;
  sentAt?: string;
}

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
const nestedObject = (depth: number): unknown => (depth === 0 ? 1 : { level: nestedObject(depth - 1) });
const validBatch = JSON.stringify({ batch: [GOOD] });

const BODY_CASES: BodyCase[] = [
  { name: "broken JSON", body: '{"batch": [', status: 400, error: /body is not valid JSON/ },
  {
    name: "trailing garbage after JSON",
    body: `${validBatch} extra`,
    status: 400,
    error: /body is not valid JSON/,
  },
  { name: "empty body", body: "", status: 400, error: /body is not valid JSON/ },
  { name: "JSON array instead of a batch", body: "[]", status: 400, error: /body must be a JSON object/ },
  { name: "JSON string", body: '"hello"', status: 400, error: /body must be a JSON object/ },
  { name: "JSON null", body: "null", status: 400, error: /body must be a JSON object/ },
  { name: "JSON number", body: "42", status: 400, error: /body must be a JSON object/ },
  {
    name: "object without batch",
    body: '{"events":[]}',
    status: 400,
    error: /unknown batch field\(s\) "events"/,
  },
  { name: "no batch field at all", body: "{}", status: 400, error: /body has no "batch" array/ },
  { name: "batch is an object", body: '{"batch":{}}', status: 400, error: /"batch" must be an array/ },
  { name: "batch is a string", body: '{"batch":"x"}', status: 400, error: /"batch" must be an array/ },
  { name: "empty batch", body: '{"batch":[]}', status: 400, error: /"batch" is empty/ },
  {
    name: "unknown batch-level field",
    body: '{"batch":[{"event":"a","user_id":"u"}],"api_key":"x"}',
    status: 400,
    error: /unknown batch field\(s\) "api_key"/,
  },
  {
    name: "batch context is an array",
    body: JSON.stringify({ batch: [GOOD], context: [{ library: "x" }] }),
    status: 400,
    error: /"context" must be a JSON object \(it is merged into the context of every event/,
  },
  {
    name: "batch context is a string",
    body: JSON.stringify({ batch: [GOOD], context: "library" }),
    status: 400,
    error: /"context" must be a JSON object/,
  },
  {
    name: "batch context over its limit (it is copied onto every event)",
    body: JSON.stringify({ batch: [GOOD], context: { note: "x".repeat(MAX_BATCH_CONTEXT_BYTES) } }),
    status: 400,
    error: new RegExp(
      `"context" is ${MAX_BATCH_CONTEXT_BYTES + 11} bytes; the limit is ${MAX_BATCH_CONTEXT_BYTES}`,
    ),
  },
  {
    name: "batch context nested past JSON.stringify's recursion",
    body: `{"batch":[${JSON.stringify(GOOD)}],"context":${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}}`,
    status: 400,
    error: /"context" is nested too deeply/,
  },
  {
    name: "text/plain content type",
    body: validBatch,
    headers: { "content-type": "text/plain" },
    status: 415,
    error: /content-type "text\/plain" is not supported/,
  },
  {
    name: "form content type",
    body: "a=b",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    status: 415,
    error: /is not supported: send application\/json/,
  },
  {
    name: "missing content type",
    body: validBatch,
    headers: { "content-type": "" },
    status: 415,
    error: /content-type is missing/,
  },
  {
    name: "latin-1 charset",
    body: validBatch,
    headers: { "content-type": "application/json; charset=iso-8859-1" },
    status: 415,
    error: /charset "iso-8859-1" is not supported/,
  },
  {
    name: "brotli content encoding",
    body: validBatch,
    headers: { "content-encoding": "br" },
    status: 415,
    error: /content-encoding "br" is not supported/,
  },
  {
    name: "claims gzip but is plain JSON",
    body: validBatch,
    headers: { "content-encoding": "gzip" },
    status: 400,
    error: /content-encoding is gzip but the body is not valid gzip/,
  },
  {
    name: "gzip of broken JSON",
    body: gzipSync('{"batch":[{"event":'),
    headers: { "content-encoding": "gzip" },
    status: 400,
    error: /body is not valid JSON/,
    kept: Buffer.from('{"batch":[{"event":'),
  },
  {
    name: "truncated gzip",
    body: gzipSync(validBatch).subarray(0, 20),
    headers: { "content-encoding": "gzip" },
    status: 400,
    error: /not valid gzip/,
  },
  {
    name: "gzip without the header saying so",
    body: gzipSync(validBatch),
    status: 400,
    error: /not valid UTF-8 \(it looks like gzip: set content-encoding: gzip\)/,
  },
  {
    name: "gzip bomb (small body, inflates past the limit)",
    body: gzipSync(
      `{"batch":[{"event":"a","user_id":"u","properties":{"pad":"${" ".repeat(MAX_BODY_BYTES + 10)}"}}]}`,
    ),
    headers: { "content-encoding": "gzip" },
    status: 413,
    error: /inflates past 1048576 bytes after gunzip/,
  },
  {
    name: "body over 1 MiB",
    body: `{"batch":[{"event":"a","user_id":"u","properties":{"pad":"${"x".repeat(MAX_BODY_BYTES)}"}}]}`,
    status: 413,
    error: /the limit is 1048576 bytes/,
  },
  {
    name: "invalid UTF-8 bytes",
    body: Buffer.concat([
      Buffer.from('{"batch":[{"event":"caf'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('","user_id":"u"}]}'),
    ]),
    status: 400,
    error: /body is not valid UTF-8/,
  },
  {
    name: "UTF-16 encoded JSON",
    body: Buffer.from(validBatch, "utf16le"),
    status: 400,
    error: /body is not valid (UTF-8|JSON)/,
  },
  {
    name: "binary noise",
    body: Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]),
    status: 400,
    error: /body is not valid UTF-8/,
  },
];

const EVENT_CASES: EventCase[] = [
  { name: "event is a number", event: "7", error: /^event must be a JSON object, not a number$/ },
  { name: "event is a string", event: '"search_made"', error: /event must be a JSON object, not a string/ },
  { name: "event is null", event: "null", error: /event must be a JSON object, not null/ },
  { name: "event is an array", event: '[{"event":"a"}]', error: /event must be a JSON object, not an array/ },
  { name: "event name missing", event: '{"user_id":"u"}', error: /event is required/ },
  { name: "event name is a number", event: '{"event":5,"user_id":"u"}', error: /^event: must be string$/ },
  {
    name: "event name empty",
    event: '{"event":"","user_id":"u"}',
    error: /^event: must NOT have fewer than 1 characters/,
  },
  {
    name: "event name empty after conforming",
    event: '{"event":"!!!","user_id":"u"}',
    error: /event name "!!!" is empty after conforming to snake_case/,
  },
  {
    name: "event name of non-Latin script only",
    event: '{"event":"搜索","user_id":"u"}',
    error: /event name "搜索" is empty after conforming/,
  },
  {
    name: "event name far too long",
    event: JSON.stringify({ event: "x".repeat(300), user_id: "u" }),
    error: /must NOT have more than 256 characters/,
  },
  {
    name: "no identity",
    event: '{"event":"a","properties":{}}',
    error: /user_id or anonymous_id is required/,
  },
  {
    name: "empty user_id",
    event: '{"event":"a","user_id":""}',
    error: /^user_id: must NOT have fewer than 1 characters/,
  },
  {
    name: "user_id is an object",
    event: '{"event":"a","user_id":{"id":1}}',
    error: /^user_id: must be string or number$/,
  },
  {
    name: "anonymous_id is a boolean",
    event: '{"event":"a","anonymous_id":true}',
    error: /^anonymous_id: must be string or number$/,
  },
  {
    name: "properties is an array",
    event: '{"event":"a","user_id":"u","properties":[1,2]}',
    error: /^properties: must be object$/,
  },
  {
    name: "properties is a string",
    event: '{"event":"a","user_id":"u","properties":"q=1"}',
    error: /^properties: must be object$/,
  },
  {
    name: "context is a number",
    event: '{"event":"a","user_id":"u","context":3}',
    error: /^context: must be object$/,
  },
  {
    name: "unknown top-level field",
    event: '{"event":"a","user_id":"u","userId":"u"}',
    error: /unknown field "userId"/,
  },
  {
    name: "event_id is a number",
    event: '{"event":"a","user_id":"u","event_id":123}',
    error: /^event_id: must be string$/,
  },
  {
    name: "timestamp in words",
    event: '{"event":"a","user_id":"u","timestamp":"yesterday"}',
    error: /timestamp "yesterday" is not ISO-8601 with a zone/,
  },
  {
    name: "timestamp without zone",
    event: '{"event":"a","user_id":"u","timestamp":"2026-11-22T10:00:00"}',
    error: /is not ISO-8601 with a zone/,
  },
  {
    name: "timestamp on February 30th",
    event: '{"event":"a","user_id":"u","timestamp":"2026-02-30T10:00:00Z"}',
    error: /is not a real date-time/,
  },
  {
    name: "timestamp in epoch seconds",
    event: '{"event":"a","user_id":"u","timestamp":1509385330}',
    error: /epoch seconds\? multiply by 1000/,
  },
  {
    name: "timestamp in 1999",
    event: '{"event":"a","user_id":"u","timestamp":"1999-12-31T23:59:59Z"}',
    error: /is before 2000-01-01T00:00:00.000Z/,
  },
  {
    name: "timestamp two days ahead",
    event: '{"event":"a","user_id":"u","timestamp":"2026-11-24T16:00:00Z"}',
    error: /more than a day after it was received/,
  },
  {
    name: "timestamp is a boolean",
    event: '{"event":"a","user_id":"u","timestamp":true}',
    error: /^timestamp: must be string or number$/,
  },
  {
    name: "timestamp is NaN-like huge number",
    event: '{"event":"a","user_id":"u","timestamp":1e300}',
    error: /more than a day after it was received/,
  },
  {
    name: "per-event sent_at invalid",
    event: '{"event":"a","user_id":"u","sent_at":"later"}',
    error: /sent_at "later" is not ISO-8601/,
  },
  {
    name: "skew correction lands before 2000",
    event: '{"event":"a","user_id":"u","timestamp":"2001-01-01T00:00:00Z"}',
    sentAt: "2030-01-01T00:00:00Z",
    error: /event time .* is before 2000/,
  },
  {
    name: "batch sent_at invalid",
    event: '{"event":"a","user_id":"u"}',
    sentAt: "soon",
    error: /sent_at "soon" is not ISO-8601/,
  },
  {
    name: "__proto__ property key",
    event: '{"event":"a","user_id":"u","properties":{"__proto__":{"admin":true}}}',
    error: /properties\.__proto__: key "__proto__" is not allowed/,
  },
  {
    name: "constructor property key",
    event: '{"event":"a","user_id":"u","properties":{"constructor":{"prototype":{"x":1}}}}',
    error: /key "constructor" is not allowed/,
  },
  {
    name: "prototype key nested in an array",
    event: '{"event":"a","user_id":"u","properties":{"items":[{"prototype":1}]}}',
    error: /properties\.items\[0\]\.prototype: key "prototype" is not allowed/,
  },
  {
    name: "keys colliding after conforming",
    event: '{"event":"a","user_id":"u","properties":{"userId":"1","user_id":"2"}}',
    error: /keys "userId" and "user_id" both conform to "user_id"/,
  },
  {
    name: "nested keys colliding",
    event: '{"event":"a","user_id":"u","properties":{"img":{"Image Size":1,"imageSize":2}}}',
    error: /properties\.img: keys "Image Size" and "imageSize" both conform to "image_size"/,
  },
  {
    name: "context keys colliding",
    event: '{"event":"a","user_id":"u","context":{"IP":"1","ip":"2"}}',
    error: /context: keys "IP" and "ip" both conform to "ip"/,
  },
  {
    name: "property key empty after conforming",
    event: '{"event":"a","user_id":"u","properties":{"???":1}}',
    error: /properties\.\?\?\?: key "\?\?\?" is empty after conforming/,
  },
  {
    name: "property key too long",
    event: JSON.stringify({ event: "a", user_id: "u", properties: { ["k".repeat(200)]: 1 } }),
    error: /is 200 characters; the limit is 128/,
  },
  {
    name: "nesting past the limit",
    event: JSON.stringify({ event: "a", user_id: "u", properties: nestedObject(MAX_NESTING_DEPTH + 2) }),
    error: new RegExp(`nested deeper than ${MAX_NESTING_DEPTH} levels`),
  },
  {
    name: "arrays nested past the limit",
    event: `{"event":"a","user_id":"u","properties":{"a":${nested(40)}}}`,
    error: /nested deeper than/,
  },
  {
    name: "event over 32 KiB",
    event: JSON.stringify({ event: "a", user_id: "u", properties: { blob: "x".repeat(MAX_EVENT_BYTES) } }),
    error: /event is \d+ bytes; the limit is 32768 bytes per event/,
  },
  {
    // Each "" is 3 bytes with its comma: the size bound must count the comma too.
    name: "array of empty strings over 32 KiB",
    event: JSON.stringify({ event: "a", user_id: "u", properties: { a: Array(11_000).fill("") } }),
    error: /event is 33\d{3} bytes; the limit is 32768 bytes per event/,
  },
  {
    name: "unpaired surrogate in a value",
    event: '{"event":"a","user_id":"u","properties":{"q":"\\ud800x"}}',
    error: /properties\.q: string contains an unpaired UTF-16 surrogate/,
  },
  {
    name: "unpaired surrogate in a key",
    event: '{"event":"a","user_id":"u","properties":{"k\\udc00":1}}',
    error: /a key contains an unpaired UTF-16 surrogate/,
  },
  {
    name: "declared schema: wrong type",
    event: '{"event":"search_made","user_id":"u","properties":{"query":"cats","n_results":"many"}}',
    error: /properties\.n_results: must be integer \(schema search_made v1\)/,
  },
  {
    name: "declared schema: missing property",
    event: '{"event":"Search Made","user_id":"u","properties":{"nResults":3}}',
    error: /properties: query is required \(schema search_made v1\)/,
  },
  {
    name: "declared schema: negative size",
    event: '{"event":"downloaded_img","user_id":"u","properties":{"image_id":"i","image_size":-5}}',
    error: /properties\.image_size: must be >= 0/,
  },
];

describe("collector bad-input corpus", () => {
  let dir: string;
  let s3: LocalS3;
  let handler: ReturnType<typeof createCollector>["handler"];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-bad-"));
    s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
    handler = createCollector({
      s3: s3.client,
      bucket: s3.bucket,
      apiKeys: ["test-key"],
      schemas: DEMO_EVENT_SCHEMAS,
      now: () => NOW,
    }).handler;
  });
  afterAll(async () => {
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("has at least 40 cases", () => {
    expect(BODY_CASES.length + EVENT_CASES.length + 1).toBeGreaterThanOrEqual(40);
  });

  it.each(BODY_CASES.map((c, i) => [c.name, c, i] as const))("refuses a body: %s", async (_name, c, i) => {
    const requestId = `body-${i}`;
    const result = await handler(
      httpApiEvent({
        requestId,
        body: Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body),
        headers: c.headers,
      }),
    );
    expect(result.statusCode).toBe(c.status);
    const { error } = JSON.parse(result.body);
    expect(error).toMatch(c.error);
    expect(await readNdjsonObject(s3.client, s3.bucket, rawObjectKey(NOW, requestId))).toBeUndefined();
    const [record, ...more] = (await readNdjsonObject(
      s3.client,
      s3.bucket,
      quarantineObjectKey(NOW, requestId),
    ))!;
    expect(more).toEqual([]);
    expect(record).toMatchObject({
      status: c.status,
      index: null,
      event_id: null,
      reasons: [error],
      request_id: requestId,
    });
    // The original is kept: as text when it decodes as UTF-8 (gzip bodies: once inflated), else base64.
    const original = Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body);
    const kept =
      record.payload_encoding === "base64"
        ? Buffer.from(record.payload, "base64")
        : Buffer.from(record.payload, "utf8");
    expect(kept.equals(c.kept ?? original)).toBe(true);
  });

  it.each(EVENT_CASES.map((c, i) => [c.name, c, i] as const))(
    "rejects one event: %s",
    async (_name, c, i) => {
      const requestId = `event-${i}`;
      const sentAt = c.sentAt === undefined ? "" : `,"sent_at":${JSON.stringify(c.sentAt)}`;
      // A good event first: unless sent_at spoils the whole batch, it must still land.
      const text = `{"batch":[${JSON.stringify(GOOD)},${c.event}]${sentAt}}`;
      const result = await handler(httpApiEvent({ requestId, body: text }));
      expect(result.statusCode).toBe(200);
      const answer = JSON.parse(result.body);
      const rejectedBad = answer.rejected.find((r: { index: number }) => r.index === 1);
      expect(rejectedBad.errors.join(" | ")).toMatch(c.error);
      const goodLands = c.name !== "batch sent_at invalid";
      expect(answer.accepted).toBe(goodLands ? 1 : 0);
      const raw = await readNdjsonObject(s3.client, s3.bucket, rawObjectKey(NOW, requestId));
      expect(raw?.map((r) => r.user_id)).toEqual(goodLands ? ["u-good"] : undefined);
      const quarantined = (await readNdjsonObject(
        s3.client,
        s3.bucket,
        quarantineObjectKey(NOW, requestId),
      ))!;
      const record = quarantined.find((q) => q.index === 1);
      expect(record).toMatchObject({
        status: 200,
        event_id: rejectedBad.event_id,
        reasons: rejectedBad.errors,
        payload_encoding: "json",
      });
      expect(record.payload).toBe(JSON.stringify(JSON.parse(c.event)));
    },
  );

  it("accounts for every event of 150 randomly mutated bodies: stored, quarantined, or refused and quarantined; never a 5xx", async () => {
    let seed = 20261122;
    const random = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed / 2 ** 32;
    };
    const base = JSON.stringify({
      sent_at: NOW.toISOString(),
      batch: [
        {
          event: "search_made",
          user_id: "u1",
          timestamp: "2026-11-22T15:29:00.000Z",
          properties: { query: "cats", n_results: 3 },
        },
        {
          event: "Downloaded img",
          user_id: 42,
          properties: { imageId: "1d3x5", imageSize: 1365, tags: ["a", { Deep: true }] },
        },
        {
          event: "uploaded_img",
          anonymous_id: "a-1",
          properties: { image_id: "x", image_size: 9001 },
          context: { service: "upload-server" },
        },
      ],
    });
    const mutations: ((text: Buffer) => Buffer)[] = [
      (b) => b.subarray(0, Math.floor(random() * b.length)),
      (b) => {
        const copy = Buffer.from(b);
        copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
        return copy;
      },
      (b) => {
        const at = Math.floor(random() * b.length);
        const tokens = [
          '"',
          "{",
          "}",
          "[",
          "]",
          ",",
          ":",
          "null",
          "-1e999",
          '"__proto__"',
          "\\u0000",
          "\\ud800",
        ];
        return Buffer.concat([
          b.subarray(0, at),
          Buffer.from(tokens[Math.floor(random() * tokens.length)]!),
          b.subarray(at),
        ]);
      },
      (b) => {
        const from = Math.floor(random() * b.length);
        const to = Math.min(b.length, from + Math.floor(random() * 40));
        return Buffer.concat([b.subarray(0, to), b.subarray(from)]);
      },
    ];
    const statuses: Record<number, number> = {};
    for (let i = 0; i < 150; i++) {
      let body: Buffer = Buffer.from(base);
      const rounds = 1 + Math.floor(random() * 3);
      for (let r = 0; r < rounds; r++) body = mutations[Math.floor(random() * mutations.length)]!(body);
      const gzipped = random() < 0.3;
      const requestId = `fuzz-${i}`;
      const result = await handler(
        httpApiEvent({
          requestId,
          body: gzipped ? gzipSync(body) : body,
          headers: gzipped ? { "content-encoding": "gzip" } : {},
        }),
      );
      expect([200, 400, 413, 415]).toContain(result.statusCode);
      statuses[result.statusCode] = (statuses[result.statusCode] ?? 0) + 1;
      const answer = JSON.parse(result.body);
      const raw = (await readNdjsonObject(s3.client, s3.bucket, rawObjectKey(NOW, requestId))) ?? [];
      const quarantined =
        (await readNdjsonObject(s3.client, s3.bucket, quarantineObjectKey(NOW, requestId))) ?? [];
      if (result.statusCode === 200) {
        expect(raw).toHaveLength(answer.accepted);
        expect(quarantined.map((q) => q.index)).toEqual(
          answer.rejected.map((r: { index: number }) => r.index),
        );
      } else {
        expect(typeof answer.error).toBe("string");
        expect(raw).toEqual([]);
        expect(quarantined).toHaveLength(1);
      }
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    // The mutations reach both sides: batches that still parse (with rejected events) and refused bodies.
    expect(statuses[200]).toBeGreaterThan(10);
    expect(statuses[400]).toBeGreaterThan(10);
  });

  it("rejects an event nested 100,000 deep without crashing, keeping the whole body as its payload", async () => {
    const requestId = "deep-100k";
    const text = `{"batch":[${JSON.stringify(GOOD)},{"event":"deep","user_id":"u","properties":{"a":${nested(100_000)}}}]}`;
    const result = await handler(httpApiEvent({ requestId, body: text }));
    expect(result.statusCode).toBe(200);
    const answer = JSON.parse(result.body);
    expect(answer.accepted).toBe(1);
    expect(answer.rejected[0].errors.join(" ")).toMatch(/nested (too deeply|deeper)/);
    const [record] = (await readNdjsonObject(s3.client, s3.bucket, quarantineObjectKey(NOW, requestId)))!;
    const payload =
      record.payload_encoding === "base64"
        ? Buffer.from(record.payload, "base64").toString()
        : record.payload;
    expect(payload.length).toBeGreaterThan(200_000);
  });
});
