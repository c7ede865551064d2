import { gunzipSync } from "node:zlib";
import { GetObjectCommand, paginateListObjectsV2, type S3Client } from "@aws-sdk/client-s3";

/** GETs in flight at once when reading many small objects (s3rver answers each in milliseconds). */
const READ_CONCURRENCY = 16;

/** Every key under `prefix`, all pages, in key order. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const { Key } of page.Contents ?? []) if (Key) keys.push(Key);
  }
  return keys;
}

/** One gzip NDJSON object (raw or quarantine zone), parsed line by line. */
export async function readNdjsonGz<T = Record<string, unknown>>(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<T[]> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const text = gunzipSync(Buffer.from(await got.Body!.transformToByteArray())).toString("utf8");
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as T);
}

/** Many objects, a few at a time, in the order of `keys`. */
export async function readNdjsonGzMany<T = Record<string, unknown>>(
  s3: S3Client,
  bucket: string,
  keys: readonly string[],
): Promise<{ key: string; lines: T[] }[]> {
  const out: { key: string; lines: T[] }[] = [];
  for (let i = 0; i < keys.length; i += READ_CONCURRENCY) {
    const chunk = keys.slice(i, i + READ_CONCURRENCY);
    out.push(
      ...(await Promise.all(
        chunk.map(async (key) => ({ key, lines: await readNdjsonGz<T>(s3, bucket, key) })),
      )),
    );
  }
  return out;
}
