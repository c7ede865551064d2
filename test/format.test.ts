import { describe, expect, it } from "vitest";
import { formatRows } from "../cli/format.js";

describe("formatRows", () => {
  const rows = [
    { user_id: "u1", num_downloads: 3n, note: 'say "hi", ok' },
    { user_id: "u22", num_downloads: 10n, note: null },
  ];

  it("renders an aligned table", () => {
    expect(formatRows(rows, "table").split("\n")).toEqual([
      "user_id | num_downloads | note",
      "--------+---------------+-------------",
      'u1      | 3             | say "hi", ok',
      "u22     | 10",
    ]);
  });

  it("quotes CSV cells that need it", () => {
    expect(formatRows(rows, "csv")).toBe('user_id,num_downloads,note\nu1,3,"say ""hi"", ok"\nu22,10,');
  });

  it("emits JSON with bigints as numbers", () => {
    expect(JSON.parse(formatRows(rows, "json"))[1]).toEqual({
      user_id: "u22",
      num_downloads: 10,
      note: null,
    });
  });

  it("keeps each table row on one line, escaping control characters", () => {
    const lines = formatRows(
      [{ user_id: "uni", query: 'café ☕, "quoted"\nnew\t日本語\u001b[31m', n: 1 }],
      "table",
    ).split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('uni     | café ☕, "quoted"\\nnew 日本語\\u001b[31m | 1');
  });

  it("pads by display width: East Asian wide characters and emoji take two columns", () => {
    const lines = formatRows(
      [
        { name: "日本語", n: 1 },
        { name: "abc", n: 2 },
        { name: "☕x", n: 3 },
      ],
      "table",
    ).split("\n");
    expect(lines).toEqual(["name   | n", "-------+--", "日本語 | 1", "abc    | 2", "☕x    | 3"]);
  });
});
