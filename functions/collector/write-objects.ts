import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { RAW_GZIP_LEVEL } from "./limits.js";

const gzipAsync = promisify(gzip);

/** Gzip NDJSON: one JSON document a line (given serialized), newline-terminated, as the compaction worker reads it. */
export async function encodeNdjsonGzip(lines: readonly string[]): Promise<Buffer> {
  return gzipAsync(`${lines.join("\n")}\n`, { level: RAW_GZIP_LEVEL });
}

/**
 * Writes one object with ONE PutObject: S3 makes it visible whole or not at all, so a reader never
 * sees half a batch, and a failed put leaves nothing behind.
 */
export async function putNdjsonGzip(s3: S3Client, bucket: string, key: string, lines: readonly string[]): Promise<void> {
  const body = await encodeNdjsonGzip(lines);
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: body,
      // Deliberately no Content-Encoding: readers must get the gzip bytes, not a transparently inflated body.
      ContentType: "application/gzip",
      Metadata: { records: String(lines.length) },
    }),
  );
}
