import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { NdjsonBuffer } from "../functions/collector/ndjson-buffer.js";

const text = (gz: Buffer) => gunzipSync(gz).toString("utf8");

describe("NdjsonBuffer (the raw object's lines before gzip)", () => {
  it("gzips its lines newline-terminated, exactly, also past its first buffer and with non-ASCII text", () => {
    const lines = Array.from({ length: 3_000 }, (_, i) =>
      JSON.stringify({ i, query: i % 3 === 0 ? `café ☕ 日本 😀 ${"x".repeat(i % 500)}` : "plain" }),
    );
    const ndjson = new NdjsonBuffer();
    for (const line of lines) ndjson.append(line);
    expect(ndjson.lines).toBe(3_000);
    expect(text(ndjson.gzip())).toBe(`${lines.join("\n")}\n`);
  });

  it("never lets two batches in progress at once share bytes, and reuses the buffer after gzip", () => {
    const a = new NdjsonBuffer();
    const b = new NdjsonBuffer();
    a.append('{"a":1}');
    b.append('{"b":1}');
    a.append('{"a":2}');
    b.append('{"b":2}');
    expect(text(a.gzip())).toBe('{"a":1}\n{"a":2}\n');
    // a's buffer is now the spare one: a new batch takes it while b is still filling its own.
    const c = new NdjsonBuffer();
    c.append('{"c":1}');
    b.append('{"b":3}');
    expect(text(b.gzip())).toBe('{"b":1}\n{"b":2}\n{"b":3}\n');
    expect(text(c.gzip())).toBe('{"c":1}\n');
  });

  it("writes every line whatever the count falls on a group of writes or between them", () => {
    for (const count of [1, 31, 32, 33, 64, 65]) {
      const lines = Array.from({ length: count }, (_, i) => `{"n":${i}}`);
      const ndjson = new NdjsonBuffer();
      for (const line of lines) ndjson.append(line);
      expect(ndjson.lines).toBe(count);
      expect(text(ndjson.gzip()), `${count} lines`).toBe(`${lines.join("\n")}\n`);
    }
  });

  it("gzips nothing as an empty object", () => {
    expect(text(new NdjsonBuffer().gzip())).toBe("");
  });
});
