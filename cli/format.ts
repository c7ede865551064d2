import { Option } from "commander";

/** The output formats every command that prints rows accepts (`--format table|json|csv`). */
export type OutputFormat = "table" | "json" | "csv";

export const formatOption = () =>
  new Option("--format <format>", "output format").choices(["table", "json", "csv"]).default("table");

type Row = Record<string, unknown>;

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "object")
    return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  return String(value);
}

function csvCell(value: unknown): string {
  const text = cell(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Renders rows in the chosen format. Columns are taken from the first row unless given. */
export function formatRows(rows: Row[], format: OutputFormat, columns?: string[]): string {
  const cols = columns ?? Object.keys(rows[0] ?? {});
  if (format === "json") {
    return JSON.stringify(rows, (_k, v) => (typeof v === "bigint" ? Number(v) : v), 2);
  }
  if (format === "csv") {
    return [cols.map(csvCell).join(","), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(","))].join(
      "\n",
    );
  }
  const body = rows.map((r) => cols.map((c) => cell(r[c])));
  const widths = cols.map((c, i) => Math.max(c.length, ...body.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join(" | ")
      .replace(/[ |]+$/, "");
  return [line(cols), widths.map((w) => "-".repeat(w)).join("-+-"), ...body.map(line)].join("\n");
}
