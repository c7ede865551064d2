import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

/**
 * Keeps a local directory equal to the Parquet objects under an S3 prefix, so DuckDB (which has no
 * httpfs here) can read them as files. Unchanged objects (same ETag and size) are not downloaded again;
 * objects gone from S3 (merged away by compaction) are deleted locally so no row is counted twice.
 */

/** Downloads in flight at once: enough to hide request latency, few enough for 2 cores and s3rver. */
export const MIRROR_CONCURRENCY = 8;
const MANIFEST_FILE = ".mirror-manifest.json";

interface MirroredObject {
  etag: string;
  size: number;
}

export interface MirrorReport {
  /** Local paths of every mirrored object, sorted. */
  files: string[];
  downloaded: number;
  unchanged: number;
  removed: number;
  bytesDownloaded: number;
}

export interface MirrorOptions {
  s3: S3Client;
  bucket: string;
  prefix: string;
  directory: string;
  /** Which keys to mirror (default: `.parquet` objects). */
  accept?: (key: string) => boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Times the listing is taken again when an object vanished between listing and download. */
export const MIRROR_ATTEMPTS = 3;

/**
 * Mirrors the prefix. Compaction may replace small parts by a merged file while we copy: an object
 * listed but gone by the time it is fetched makes the whole listing stale, so it is taken again.
 */
export async function mirrorPrefix(options: MirrorOptions): Promise<MirrorReport> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await mirrorOnce(options);
    } catch (error) {
      if ((error as { name?: string }).name !== "NoSuchKey" || attempt >= MIRROR_ATTEMPTS) throw error;
    }
  }
}

async function mirrorOnce(options: MirrorOptions): Promise<MirrorReport> {
  const accept = options.accept ?? ((key: string) => key.endsWith(".parquet"));
  const root = resolve(options.directory);
  await mkdir(root, { recursive: true });
  const manifestPath = join(root, MANIFEST_FILE);
  const previous = await readManifest(manifestPath);
  const listed = await listObjects(options.s3, options.bucket, options.prefix);
  const wanted = listed.filter((o) => accept(o.key));

  const next: Record<string, MirroredObject> = {};
  const toDownload: { key: string; path: string; object: MirroredObject }[] = [];
  let unchanged = 0;
  for (const { key, etag, size } of wanted) {
    const path = localPath(root, key);
    const known = previous[key];
    if (known && known.etag === etag && known.size === size && (await fileSize(path)) === size) {
      unchanged++;
      next[key] = known;
    } else {
      toDownload.push({ key, path, object: { etag, size } });
    }
  }

  let done = 0;
  let bytesDownloaded = 0;
  options.onProgress?.(0, toDownload.length);
  await forEachLimited(toDownload, MIRROR_CONCURRENCY, async ({ key, path, object }) => {
    await download(options.s3, options.bucket, key, path);
    next[key] = object;
    bytesDownloaded += object.size;
    options.onProgress?.(++done, toDownload.length);
  });

  let removed = 0;
  for (const key of Object.keys(previous)) {
    if (!next[key]) {
      await rm(localPath(root, key), { force: true });
      removed++;
    }
  }
  await writeFile(manifestPath, JSON.stringify(next));
  return {
    files: Object.keys(next)
      .map((key) => localPath(root, key))
      .sort(),
    downloaded: toDownload.length,
    unchanged,
    removed,
    bytesDownloaded,
  };
}

async function listObjects(s3: S3Client, bucket: string, prefix: string) {
  const objects: { key: string; etag: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      if (o.Key) objects.push({ key: o.Key, etag: o.ETag ?? "", size: o.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** The key's path under root; a key that would escape root (`..`) is refused. */
function localPath(root: string, key: string): string {
  const path = resolve(root, key);
  if (!path.startsWith(root + sep))
    throw new Error(`object key escapes the mirror directory: ${JSON.stringify(key)}`);
  return path;
}

async function download(s3: S3Client, bucket: string, key: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  // Written beside the target and renamed, so a reader never sees half a Parquet file.
  const partial = `${path}.${randomUUID()}.part`;
  try {
    await pipeline(response.Body as Readable, createWriteStream(partial));
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

async function readManifest(path: string): Promise<Record<string, MirroredObject>> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Record<string, MirroredObject>;
  } catch {
    return {};
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(workers);
}
