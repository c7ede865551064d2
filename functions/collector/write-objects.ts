import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { RAW_GZIP_LEVEL, RAW_GZIP_MEMBER_LINES } from "./limits.js";

const gzipAsync = promisify(gzip);

/**
 * Builds a gzip NDJSON body (one JSON document a line, newline-terminated, as the compaction worker
 * reads it) while the lines are still being produced: every RAW_GZIP_MEMBER_LINES lines are
 * compressed as one gzip member on libuv's thread pool, in parallel with the validation of the next
 * events on the main thread. Concatenated members are one valid gzip file (RFC 1952 section 2.2):
 * Node's gunzip and DuckDB's read_json both read all of them.
 */
export class GzipNdjsonBuilder {
  private lines: string[] = [];
  private readonly members: Promise<Buffer>[] = [];
  private added = 0;

  constructor(private readonly linesPerMember = RAW_GZIP_MEMBER_LINES) {}

  get count(): number {
    return this.added;
  }

  add(line: string): void {
    this.lines.push(line);
    this.added++;
    if (this.lines.length >= this.linesPerMember) this.seal();
  }

  async finish(): Promise<Buffer> {
    this.seal();
    return Buffer.concat(await Promise.all(this.members));
  }

  private seal(): void {
    if (this.lines.length === 0) return;
    const member = gzipAsync(`${this.lines.join("\n")}\n`, { level: RAW_GZIP_LEVEL });
    // Awaited in finish(); this only keeps a failure from being reported as unhandled before then.
    member.catch(() => {});
    this.members.push(member);
    this.lines = [];
  }
}

/** Gzip NDJSON of already serialized lines. */
export async function encodeNdjsonGzip(lines: readonly string[]): Promise<Buffer> {
  const builder = new GzipNdjsonBuilder();
  for (const line of lines) builder.add(line);
  return builder.finish();
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
  await putGzipObject(s3, bucket, key, await encodeNdjsonGzip(lines), lines.length);
}
