import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";

const gunzipAsync = promisify(gunzip);

/** Files decoded at once: enough to keep both cores busy, few enough to bound memory. */
const READ_CONCURRENCY = 16;
/** Unreadable objects named in the note (the count covers the rest). */
const MAX_NAMED_PROBLEMS = 3;

/** One raw event line of the correlation ID, as trace shows it. */
export interface RawTraceEvent {
  event_id: string;
  event: string;
  t: number;
  service: string | null;
  fn: string | null;
  properties: unknown;
}

/** What the raw zone held that trace could not read (compaction quarantines the same objects and lines). */
export interface SkippedRaw {
  objects: number;
  lines: number;
  /** A few `file: reason` examples. */
  examples: string[];
}

/**
 * The events of one correlation ID in mirrored raw objects (gzip NDJSON). Read line by line in Node
 * rather than by DuckDB's read_json, because one non-gzip or truncated object, or one malformed line,
 * makes read_json fail the whole query: here such an object or line is skipped and counted.
 */
export async function readRawEvents(
  files: readonly string[],
  correlationId: string,
  /** How a file is named in the note (the S3 key it mirrors). */
  nameOf: (file: string) => string = (file) => file,
): Promise<{ events: RawTraceEvent[]; skipped: SkippedRaw }> {
  const events: RawTraceEvent[] = [];
  const skipped: SkippedRaw = { objects: 0, lines: 0, examples: [] };
  const note = (file: string, reason: string) => {
    if (skipped.examples.length < MAX_NAMED_PROBLEMS) skipped.examples.push(`${nameOf(file)}: ${reason}`);
  };
  for (let i = 0; i < files.length; i += READ_CONCURRENCY) {
    const texts = await Promise.all(
      files.slice(i, i + READ_CONCURRENCY).map(async (file) => {
        try {
          return { file, text: (await gunzipAsync(await readFile(file))).toString("utf8") };
        } catch (error) {
          skipped.objects++;
          note(file, (error as Error).message);
          return { file, text: "" };
        }
      }),
    );
    for (const { file, text } of texts) {
      let lineNo = 0;
      for (const line of text.split("\n")) {
        lineNo++;
        if (line.trim().length === 0) continue;
        let record: Record<string, unknown>;
        try {
          const parsed: unknown = JSON.parse(line);
          if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
            throw new Error("not a JSON object");
          record = parsed as Record<string, unknown>;
        } catch (error) {
          skipped.lines++;
          note(file, `line ${lineNo}: ${(error as Error).message}`);
          continue;
        }
        if (record.correlation_id !== correlationId) continue;
        const t = Date.parse(String(record.event_time));
        if (typeof record.event_id !== "string" || Number.isNaN(t)) {
          skipped.lines++;
          note(file, `line ${lineNo}: no event_id or event_time`);
          continue;
        }
        const context = record.context as { function_name?: unknown } | null | undefined;
        events.push({
          event_id: record.event_id,
          event: String(record.event),
          t,
          service: typeof record.service === "string" ? record.service : null,
          fn: typeof context?.function_name === "string" ? context.function_name : null,
          properties: record.properties,
        });
      }
    }
  }
  return { events, skipped };
}

/** The stderr note for what trace skipped, or undefined when it read everything. */
export function skippedRawNote(skipped: SkippedRaw): string | undefined {
  if (skipped.objects === 0 && skipped.lines === 0) return undefined;
  return [
    `trace skipped ${skipped.objects} unreadable raw object(s) and ${skipped.lines} malformed line(s); ` +
      "`observatory etl start compaction --local` moves them to quarantine with the reason.",
    ...skipped.examples.map((e) => `  ${e}`),
  ].join("\n");
}
