import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { NdjsonBuffer } from "./ndjson-buffer.js";

/**
 * Gzip NDJSON of `lines` (ndjson-buffer.ts), compressed in ONE synchronous pass. Measured in
 * bench/collector.bench.ts: 100-line members on the thread pool cost about twice the CPU (a deflate
 * stream set up per member, a hand-off per member), and on a busy 2-core machine each hand-off also
 * waits for a core; a Lambda invocation handles one request at a time, so there is nothing to overlap.
 */
export function gzipNdjson(lines: readonly string[]): Buffer {
  const ndjson = new NdjsonBuffer();
  for (const line of lines) ndjson.append(line);
  return ndjson.gzip();
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
