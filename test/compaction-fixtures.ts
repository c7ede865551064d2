// Helpers for the compaction tests: raw objects exactly as the collector writes them, and reading a
// compacted table back with DuckDB.
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { QuarantineRecord, RawEventRecord } from "../contracts/event-record.js";
import { quarantineObjectKey, rawObjectKey, tablePrefix } from "../contracts/storage-layout.js";
import { openDuckDB, sqlStringList } from "../functions/compaction/duckdb.js";
import { listObjects } from "../functions/compaction/s3-files.js";

export function rawEvent(
  overrides: Partial<RawEventRecord> & { event: string; event_time: string },
): RawEventRecord {
  return {
    event_id: randomUUID(),
    received_at: overrides.event_time,
    user_id: "user-1",
    anonymous_id: null,
    correlation_id: randomUUID(),
    service: "shop",
    stage: "dev",
    properties: {},
    context: { library: { name: "observatory-tracker" } },
    schema_version: null,
    request_id: randomUUID(),
    ...overrides,
  };
}

/** Writes one collector request's accepted events; returns the key. */
export async function putRawObject(
  s3: S3Client,
  bucket: string,
  receivedAt: Date,
  records: RawEventRecord[],
): Promise<string> {
  const key = rawObjectKey(receivedAt, randomUUID());
  const body = gzipSync(records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return key;
}

export async function putQuarantineObject(
  s3: S3Client,
  bucket: string,
  receivedAt: Date,
  records: QuarantineRecord[],
): Promise<string> {
  const key = quarantineObjectKey(receivedAt, randomUUID());
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: gzipSync(records.map((r) => `${JSON.stringify(r)}\n`).join("")),
    }),
  );
  return key;
}

/** Runs `sql` over a table's Parquet (view named after the table, with dt/hour columns). */
export async function queryTable<T = Record<string, unknown>>(
  s3: S3Client,
  bucket: string,
  table: string,
  sql: string,
): Promise<T[]> {
  const keys = (await listObjects(s3, bucket, tablePrefix(table))).map((o) => o.key);
  if (keys.length === 0) return [];
  const dir = await mkdtemp(join(tmpdir(), "compaction-read-"));
  const db = await openDuckDB({ tempDirectory: join(dir, "duckdb"), threads: 1 });
  try {
    // Keep the Hive layout so dt/hour come from the path, as in Athena and the local engine.
    const files = await Promise.all(
      keys.map(async (key) => {
        const path = join(dir, key);
        await mkdir(dirname(path), { recursive: true });
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        await writeFile(path, await object.Body!.transformToByteArray());
        return path;
      }),
    );
    await db.connection.run(
      `CREATE VIEW ${table} AS SELECT * FROM read_parquet(${sqlStringList(files)}, hive_partitioning = true, hive_types_autocast = false)`,
    );
    const reader = await db.connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as T[];
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Keys of a table's Parquet files. */
export async function tableFiles(s3: S3Client, bucket: string, table: string): Promise<string[]> {
  return (await listObjects(s3, bucket, tablePrefix(table))).map((o) => o.key);
}

/** Runs `sql` over one Parquet object; `FILE` in the SQL stands for the downloaded file's path. */
export async function queryParquetFile<T = Record<string, unknown>>(
  s3: S3Client,
  bucket: string,
  key: string,
  sql: string,
): Promise<T[]> {
  const dir = await mkdtemp(join(tmpdir(), "compaction-file-"));
  const db = await openDuckDB({ tempDirectory: join(dir, "duckdb"), threads: 1 });
  try {
    const path = join(dir, "file.parquet");
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    await writeFile(path, await object.Body!.transformToByteArray());
    const reader = await db.connection.runAndReadAll(sql.replaceAll("FILE", `'${path}'`));
    return reader.getRowObjectsJson() as T[];
  } finally {
    db.close();
    await rm(dir, { recursive: true, force: true });
  }
}
