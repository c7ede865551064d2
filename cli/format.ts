import { Option } from "commander";
import stringWidth from "string-width";

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

/**
 * A table cell must stay on one line and not move the cursor: control characters (newline, escape,
 * DEL, C1) are shown escaped the way JSON writes them (`\n`, `\u001b`). A tab becomes one space: Lambda's
 * REPORT lines separate their fields with tabs, and `\t` between every field is unreadable.
 * (json and csv keep values as they are.)
 */
const NAMED_ESCAPES: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": " " };
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;
function tableCell(value: unknown): string {
  return cell(value).replace(
    CONTROL_CHARACTERS,
    (c) => NAMED_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Pads to a terminal display width: East Asian wide characters and emoji take two columns. */
function padToWidth(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - stringWidth(text)));
}

/** `text` cut to at most `width` display columns, ending in `…` when something was cut. */
export function ellipsize(text: string, width: number): string {
  if (stringWidth(text) <= width) return text;
  let kept = "";
  let keptWidth = 0;
  for (const character of text) {
    keptWidth += stringWidth(character);
    if (keptWidth > width - 1) break;
    kept += character;
  }
  return `${kept}…`;
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
  const header = cols.map(tableCell);
  const body = rows.map((r) => cols.map((c) => tableCell(r[c])));
  const widths = header.map((h, i) => Math.max(stringWidth(h), ...body.map((line) => stringWidth(line[i]!))));
  const line = (values: string[]) =>
    values
      .map((v, i) => padToWidth(v, widths[i]!))
      .join(" | ")
      .replace(/[ |]+$/, "");
  return [line(header), widths.map((w) => "-".repeat(w)).join("-+-"), ...body.map(line)].join("\n");
}
