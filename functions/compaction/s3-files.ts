import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import pMap from "p-map";
import { S3_TRANSFER_CONCURRENCY } from "./limits.js";

/** S3 <-> local files for DuckDB (no httpfs here or in the Lambda layer: the SDK does the transfers). */

export interface ListedObject {
  key: string;
  size: number;
  etag?: string;
}

/** Every object under `prefix` (all pages), optionally only keys after `startAfter`, in key order. */
export async function listObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
  startAfter?: string,
): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        StartAfter: token ? undefined : startAfter,
        ContinuationToken: token,
      }),
    );
    for (const o of page.Contents ?? [])
      if (o.Key) objects.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** Downloads `keys` into `directory` as `<i><suffix>`, in parallel; returns the local paths in key order. */
export async function downloadObjects(
  s3: S3Client,
  bucket: string,
  keys: string[],
  directory: string,
  suffix: string,
): Promise<string[]> {
  return pMap(
    keys.map((key, i) => ({ key, path: join(directory, `${i}${suffix}`) })),
    async ({ key, path }) => {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      if (!object.Body) throw new Error(`s3://${bucket}/${key} has no body`);
      await pipeline(object.Body as Readable, createWriteStream(path));
      return path;
    },
    { concurrency: S3_TRANSFER_CONCURRENCY },
  );
}

/**
 * S3 conditional write: replace only the version we read (`ifMatch` = its ETag), or create only if
 * absent (`ifNoneMatch: "*"`). A writer that lost the race gets PreconditionFailed (see isWriteConflict).
 */
export interface WriteCondition {
  ifMatch?: string;
  ifNoneMatch?: "*";
}

export async function uploadFile(
  s3: S3Client,
  bucket: string,
  key: string,
  path: string,
  condition: WriteCondition = {},
): Promise<void> {
  // Parquet files here are at most a partition-hour: reading them whole is simpler than a multipart upload.
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: await readFile(path),
      ContentType: "application/vnd.apache.parquet",
      IfMatch: condition.ifMatch,
      IfNoneMatch: condition.ifNoneMatch,
    }),
  );
}

/** Server-side copy. encodeURI leaves `/` and `=` as they are: AWS accepts that, and s3rver does not decode `%3D`. */
export async function copyObject(
  s3: S3Client,
  bucket: string,
  from: string,
  to: string,
  condition: WriteCondition = {},
): Promise<void> {
  await s3.send(
    new CopyObjectCommand({
      Bucket: bucket,
      CopySource: `${bucket}/${encodeURI(from)}`,
      Key: to,
      IfMatch: condition.ifMatch,
      IfNoneMatch: condition.ifNoneMatch,
    }),
  );
}

/** The answer S3 gives a conditional write whose condition no longer holds (someone else wrote first). */
export function isWriteConflict(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e?.name === "PreconditionFailed" ||
    e?.name === "ConditionalRequestConflict" ||
    e?.$metadata?.httpStatusCode === 412
  );
}

export async function readJsonObject<T>(s3: S3Client, bucket: string, key: string): Promise<T | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(
      await (object.Body as { transformToString(): Promise<string> }).transformToString(),
    ) as T;
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchKey") return undefined;
    throw error;
  }
}

export async function writeJsonObject(
  s3: S3Client,
  bucket: string,
  key: string,
  value: unknown,
): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: JSON.stringify(value),
      ContentType: "application/json",
    }),
  );
}

/** Deletes keys, 1,000 per request (the DeleteObjects limit). */
export async function deleteObjects(s3: S3Client, bucket: string, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const result = await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    if (result.Errors?.length)
      throw new Error(
        `deleting ${result.Errors.length} objects failed: ${result.Errors[0]?.Key} ${result.Errors[0]?.Message}`,
      );
  }
}

/** JSON Lines (the Distributed Map ItemReader's InputType JSONL): one value a line. */
export async function writeJsonLines(
  s3: S3Client,
  bucket: string,
  key: string,
  values: unknown[],
): Promise<void> {
  const body = values.map((v) => `${JSON.stringify(v)}\n`).join("");
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/x-ndjson" }),
  );
}
