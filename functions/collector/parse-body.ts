import { isUtf8 } from "node:buffer";
import { gunzipSync } from "node:zlib";
import type { QuarantineRecord } from "../../contracts/event-record.js";
import type { CollectorRequest } from "./http-event.js";
import { MAX_BATCH_CONTEXT_BYTES, MAX_BODY_BYTES, MAX_DECOMPRESSED_BODY_BYTES } from "./limits.js";

/** A body that could be read as a batch: its events (not yet validated) and the batch-level fields. */
export interface ParsedBatch {
  ok: true;
  events: unknown[];
  /** The batch's `sent_at` as sent (validated later with the events' timestamps). */
  sentAt: unknown;
  /** The batch's `context`, merged under each event's own (the event's members win); absent when not sent. */
  context?: Record<string, unknown>;
}

/** A body refused as a whole: the status to answer, why, and the original bytes for quarantine. */
export interface RefusedBody {
  ok: false;
  status: 400 | 413 | 415;
  error: string;
  payload: string;
  payloadEncoding: QuarantineRecord["payload_encoding"];
}

const BATCH_FIELDS = new Set(["batch", "sent_at", "context"]);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

function refuse(status: RefusedBody["status"], error: string, bytes: Buffer): RefusedBody {
  // Quarantine keeps the original: text when it is UTF-8, base64 otherwise (e.g. gzip or binary).
  try {
    return { ok: false, status, error, payload: strictUtf8.decode(bytes), payloadEncoding: "utf8" };
  } catch {
    return { ok: false, status, error, payload: bytes.toString("base64"), payloadEncoding: "base64" };
  }
}

/** `application/json`, optionally with `charset=utf-8`; anything else is a 415. */
export function checkContentType(contentType: string | undefined): string | null {
  if (!contentType) return "content-type is missing: send application/json";
  const [mediaType, ...params] = contentType.split(";").map((part) => part.trim().toLowerCase());
  if (mediaType !== "application/json")
    return `content-type ${JSON.stringify(contentType)} is not supported: send application/json`;
  for (const param of params) {
    const [name, value] = param.split("=").map((s) => s.trim().replace(/^"|"$/g, ""));
    if (name === "charset" && value !== "utf-8" && value !== "utf8") {
      return `charset ${JSON.stringify(value)} is not supported: send UTF-8`;
    }
  }
  return null;
}

/** What parseBody reads of a request; `body` may be encoded on first use (http-event.ts). */
export type BodySource = Pick<CollectorRequest, "headers" | "body" | "bodyLength" | "bodyText">;

/**
 * Turns request bytes into a batch, or says why not. Order matters: the cheap checks (type, size)
 * run before any decompression or parsing, and gunzip is capped so a gzip bomb stops at the limit.
 * A text body (`bodyText`, an API Gateway body that was not base64) is parsed as delivered; its bytes
 * are read only to quarantine it when it is refused.
 */
export function parseBody(request: BodySource): ParsedBatch | RefusedBody {
  const { headers } = request;
  const typeError = checkContentType(headers["content-type"]);
  if (typeError) return refuse(415, typeError, request.body);
  if (request.bodyLength > MAX_BODY_BYTES) {
    return refuse(
      413,
      `body is ${request.bodyLength} bytes; the limit is ${MAX_BODY_BYTES} bytes (split the batch)`,
      request.body,
    );
  }

  const encoding = (headers["content-encoding"]?.trim() || "identity").toLowerCase();
  let text: string;
  /** The bytes the text was decoded from, when it was (gzip or base64 bodies). */
  let decoded: Buffer | undefined;
  if (encoding === "identity" && request.bodyText !== undefined) {
    // The delivered text, whose UTF-8 the body is, always valid (a lone surrogate became U+FFFD's
    // bytes): the same text as decoding the bytes back, without encoding or decoding anything.
    text = (request.bodyText as string & { toWellFormed(): string }).toWellFormed();
  } else {
    const raw = request.body;
    let bytes = raw;
    if (encoding === "gzip") {
      try {
        bytes = gunzipSync(raw, {
          maxOutputLength: MAX_DECOMPRESSED_BODY_BYTES,
          chunkSize: gunzipChunkBytes(raw.length),
        });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
          return refuse(
            413,
            `body inflates past ${MAX_DECOMPRESSED_BODY_BYTES} bytes after gunzip; the limit applies to the decompressed batch`,
            raw,
          );
        }
        return refuse(
          400,
          `content-encoding is gzip but the body is not valid gzip (${(error as Error).message})`,
          raw,
        );
      }
    } else if (encoding !== "identity") {
      return refuse(
        415,
        `content-encoding ${JSON.stringify(encoding)} is not supported: send gzip or none`,
        raw,
      );
    }
    // isUtf8 validates in C++ without allocating; toString then decodes.
    if (!isUtf8(bytes)) {
      const hint =
        bytes[0] === 0x1f && bytes[1] === 0x8b ? " (it looks like gzip: set content-encoding: gzip)" : "";
      return refuse(400, `body is not valid UTF-8${hint}`, raw);
    }
    text = bytes.toString("utf8");
    decoded = bytes;
  }
  // A BOM, if any, is dropped as TextDecoder would.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // What a refusal below quarantines: the body as read (decompressed when it was gzip).
  const readBytes = () => decoded ?? request.body;

  // JSON.parse is safe against prototype pollution by spec: it defines `__proto__` as an own data
  // property instead of invoking the setter. Reserved keys are then rejected per event by conform.
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return refuse(400, `body is not valid JSON: ${(error as Error).message}`, readBytes());
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return refuse(400, 'body must be a JSON object {"batch": [...]}', readBytes());
  }
  const fields = Object.keys(body);
  const unknown = fields.filter((f) => !BATCH_FIELDS.has(f));
  if (unknown.length > 0) {
    return refuse(
      400,
      `unknown batch field(s) ${unknown.map((f) => JSON.stringify(f)).join(", ")}: a batch has "batch" and optional "sent_at" and "context"`,
      readBytes(),
    );
  }
  const {
    batch,
    sent_at: sentAt,
    context,
  } = body as { batch?: unknown; sent_at?: unknown; context?: unknown };
  if (!Array.isArray(batch)) {
    return refuse(
      400,
      batch === undefined ? 'body has no "batch" array' : '"batch" must be an array of events',
      readBytes(),
    );
  }
  if (batch.length === 0) return refuse(400, '"batch" is empty: send at least one event', readBytes());
  if (context === undefined) return { ok: true, events: batch, sentAt };
  if (typeof context !== "object" || context === null || Array.isArray(context)) {
    return refuse(
      400,
      '"context" must be a JSON object (it is merged into the context of every event of the batch)',
      readBytes(),
    );
  }
  let contextBytes: number;
  try {
    contextBytes = Buffer.byteLength(JSON.stringify(context));
  } catch {
    // Nested past JSON.stringify's recursion: far over any sane context.
    return refuse(400, '"context" is nested too deeply', readBytes());
  }
  if (contextBytes > MAX_BATCH_CONTEXT_BYTES) {
    return refuse(
      400,
      `"context" is ${contextBytes} bytes; the limit is ${MAX_BATCH_CONTEXT_BYTES} (it is copied onto every event: put per-event data in each event's own context)`,
      readBytes(),
    );
  }
  return { ok: true, events: batch, sentAt, context: context as Record<string, unknown> };
}

/** Node's default output chunk for zlib. */
const ZLIB_DEFAULT_CHUNK_BYTES = 16 * 1024;
/** Largest output chunk asked for: memory held per chunk while a body inflates. */
const MAX_GUNZIP_CHUNK_BYTES = 256 * 1024;
/** NDJSON batches inflate ~7x: a chunk near the expected size inflates a batch in one or two steps. */
const EXPECTED_INFLATION = 8;

/**
 * Output chunk for inflating a gzip body of `gzipBytes`. With Node's 16 KiB, a full Tracker batch
 * (~70 KB inflating to ~480 KB) takes 30 steps and a final copy of them all: 0.43 ms; in one or two
 * big chunks 0.29 ms (docs/benchmarks/collector.md). Small bodies keep the small chunk.
 */
function gunzipChunkBytes(gzipBytes: number): number {
  return Math.min(MAX_GUNZIP_CHUNK_BYTES, Math.max(ZLIB_DEFAULT_CHUNK_BYTES, gzipBytes * EXPECTED_INFLATION));
}
