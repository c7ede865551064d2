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
});
