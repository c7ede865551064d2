/**
 * The `--format table` view of a finished run (`etl start --local`): one `field | value` row per
 * summary field, and the job's `output` spread over one row per key, so that no line is wider than a
 * terminal. Nested values (lists, maps) are shown abbreviated, long text wrapped over several rows;
 * --format json and csv print them whole.
 */
import stringWidth from "string-width";
import type { JsonValue } from "../../etl/contracts.js";
import { ellipsize } from "../format.js";

/** The widest line the table may print: a terminal of 120 columns shows every row on one line. */
export const SUMMARY_TABLE_WIDTH = 120;
/** The separator formatRows puts between the field and the value. */
const COLUMN_SEPARATOR = " | ";
/** Room kept for a nested value however long the field names get (else it says nothing). */
const MIN_NESTED_VALUE_WIDTH = 40;

export interface SummaryTable {
  rows: { field: string; value: unknown }[];
  /** True when a nested value was cut (the caller says where to see it whole). */
  abbreviated: boolean;
}

function isNested(value: JsonValue | undefined): value is JsonValue[] | { [key: string]: JsonValue } {
  return typeof value === "object" && value !== null;
}

/** A list says how long it is before its first elements. */
function nestedText(value: JsonValue[] | { [key: string]: JsonValue }): string {
  const json = JSON.stringify(value);
  return Array.isArray(value) ? `${value.length} item${value.length === 1 ? "" : "s"}: ${json}` : json;
}

/**
 * Rows of the summary: scalars as they are (an S3 location stays whole, to be copied), the job's
 * output one row per key (`output.<key>`), nested values cut to what fits SUMMARY_TABLE_WIDTH.
 */
export function summaryTableRows(summary: Record<string, unknown>): SummaryTable {
  const entries: [string, unknown][] = [];
  for (const [field, value] of Object.entries(summary)) {
    const output = value as JsonValue;
    if (field === "output" && isNested(output) && !Array.isArray(output)) {
      for (const [key, inner] of Object.entries(output)) entries.push([`output.${key}`, inner]);
    } else {
      entries.push([field, value]);
    }
  }
  const fieldWidth = Math.max(...entries.map(([field]) => stringWidth(field)));
  const nestedWidth = Math.max(
    MIN_NESTED_VALUE_WIDTH,
    SUMMARY_TABLE_WIDTH - fieldWidth - COLUMN_SEPARATOR.length,
  );
  let abbreviated = false;
  const rows = entries.flatMap(([field, value]) => {
    if (typeof value === "string" && stringWidth(value) > nestedWidth) {
      // Long text (a failure's cause) is the one row a reader needs whole: wrapped, never cut.
      return wrapText(value, nestedWidth).map((line, i) => ({ field: i === 0 ? field : "", value: line }));
    }
    if (!isNested(value as JsonValue)) return [{ field, value }];
    const text = nestedText(value as JsonValue[] | { [key: string]: JsonValue });
    const shown = ellipsize(text, nestedWidth);
    if (shown !== text) abbreviated = true;
    return [{ field, value: shown }];
  });
  return { rows, abbreviated };
}

/** `text` in lines of at most `width` columns, broken at spaces (a word longer than a line is split). */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    let rest = word;
    if (stringWidth(rest) > width) {
      if (line !== "") {
        lines.push(line);
        line = "";
      }
      const pieces = splitWord(rest, width);
      rest = pieces.pop()!;
      lines.push(...pieces);
    }
    if (line === "") line = rest;
    else if (stringWidth(`${line} ${rest}`) <= width) line = `${line} ${rest}`;
    else {
      lines.push(line);
      line = rest;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}

/**
 * `word` in pieces of at most `width` columns, cut between whole characters: slicing UTF-16 units
 * would split a surrogate pair and let wide (CJK) characters take twice the width.
 */
function splitWord(word: string, width: number): string[] {
  const pieces: string[] = [];
  let piece = "";
  let pieceWidth = 0;
  for (const character of word) {
    const characterWidth = stringWidth(character);
    if (piece !== "" && pieceWidth + characterWidth > width) {
      pieces.push(piece);
      piece = "";
      pieceWidth = 0;
    }
    piece += character;
    pieceWidth += characterWidth;
  }
  if (piece !== "") pieces.push(piece);
  return pieces;
}
