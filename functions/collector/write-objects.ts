import { gzipSync } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { RAW_GZIP_LEVEL } from "./limits.js";

/**
 * Gzip NDJSON (one JSON document a line, newline-terminated, as the compaction worker reads it),
 * compressed in ONE synchronous pass. Measured in bench/collector.bench.ts: 100-line members on the
 * thread pool cost about twice the CPU (a deflate stream set up per member, a hand-off per member),
 * and on a busy 2-core machine each hand-off also waits for a core; a Lambda invocation handles one
 * request at a time, so there is nothing to overlap with anyway.
 */
export function gzipNdjson(lines: readonly string[]): Buffer {
  // ndjsonBytes' buffer is only read by gzipSync, synchronously: one scratch buffer serves every call.
  return gzipSync(ndjsonBytes(lines), { level: RAW_GZIP_LEVEL });
}

/**
 * Reused between calls: a fresh 300 KB buffer per batch is a malloc, a free and external memory that
 * hastens V8's collections. Bounded: one bigger than this is not kept.
 */
let scratch = Buffer.allocUnsafe(0);
const MAX_KEPT_SCRATCH_BYTES = 8 * 1024 * 1024;

/** A UTF-16 code unit takes at most 3 bytes of UTF-8 (a surrogate pair: 4 for 2 units). */
const MAX_UTF8_BYTES_PER_UNIT = 3;
const NEWLINE = 0x0a;

/**
 * The lines' UTF-8, each newline-terminated, written straight into one buffer: cheaper than
 * `join("\n")` + UTF-8 encoding (measured: a 500-line batch's lines are ropes of ~20 pieces each,
 * and join() first flattens all of them into one 300 KB string that is then encoded again).
 */
function ndjsonBytes(lines: readonly string[]): Buffer {
  // Units still to write (+1 a newline): the bytes they need when ASCII, the usual case.
  let pending = 0;
  for (const line of lines) pending += line.length + 1;
  if (scratch.length < pending) scratch = Buffer.allocUnsafeSlow(pending);
  let out = scratch;
  let used = 0;
  for (const line of lines) {
    pending -= line.length + 1;
    // Only a line that might not fit is measured exactly (non-ASCII text, or the last lines).
    if (used + line.length * MAX_UTF8_BYTES_PER_UNIT + 1 > out.length) {
      const needed = used + Buffer.byteLength(line) + 1 + pending;
      if (needed > out.length) {
        const bigger = Buffer.allocUnsafeSlow(Math.max(needed, out.length * 2));
        out.copy(bigger, 0, 0, used);
        out = bigger;
      }
    }
    used += out.write(line, used, "utf8");
    out[used++] = NEWLINE;
  }
  if (out.length <= MAX_KEPT_SCRATCH_BYTES) scratch = out;
  return out.subarray(0, used);
}

/**
 * Writes one object with ONE PutObject: S3 makes it visible whole or not at all, so a reader never
 * sees half a batch, and a failed put leaves nothing behind.
 */
export async function putGzipObject(
  s3: S3Client,
  bucket: string,
  key: string,
  body: Buffer,
  records: number,
): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      // Deliberately no Content-Encoding: readers must get the gzip bytes, not a transparently inflated body.
      ContentType: "application/gzip",
      Metadata: { records: String(records) },
    }),
  );
}

export async function putNdjsonGzip(
  s3: S3Client,
  bucket: string,
  key: string,
  lines: readonly string[],
): Promise<void> {
  await putGzipObject(s3, bucket, key, gzipNdjson(lines), lines.length);
}
