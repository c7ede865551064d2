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
  // join() of the lines plus an empty last one gives the final newline without a second 300 KB string.
  return gzipSync([...lines, ""].join("\n"), { level: RAW_GZIP_LEVEL });
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
