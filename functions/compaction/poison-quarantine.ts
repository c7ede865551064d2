import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { DuckDBConnection } from "@duckdb/node-api";
import type { QuarantineRecord } from "../../contracts/event-record.js";
import { quarantineObjectKey } from "../../contracts/storage-layout.js";
import { type BadLine, inspectRawObject } from "./raw-validation.js";
import { parseHourKey } from "./state.js";
import { type CompactionTable, QUARANTINE_COMPACTION_TABLE } from "./tables.js";
import { type ChunkResult, compactFiles, type SourceKind } from "./transform.js";
import { isTransient } from "./transient.js";

/**
 * A chunk's compaction that survives poison input. The chunk is compacted by DuckDB as always; only
 * when that read fails is every object checked in Node (raw-validation.ts): objects that cannot be
 * read and lines that are not what the collector writes go to the quarantine zone with their reasons,
 * and the rest is compacted. Without this one bad object would fail its chunk on every run, blocking
 * the good events beside it forever.
 *
 * Bookkeeping: the bad raw object stays a key of its chunk, so the run's commit marks it consumed
 * once, like any other. Each bad object gets ONE quarantine object at a key derived from its own key,
 * holding records derived only from its bytes (quarantined_at = the time in its key): a retried worker
 * rewrites the identical object instead of adding a second. Its rows are staged into the quarantine
 * table in this same chunk, and its key is returned as consumed by the chunk, so the next run does
 * not read it again.
 */

/** `status` of a record rejected by compaction: no HTTP answer refused it (the collector stored it). */
export const REJECTED_BY_COMPACTION_STATUS = 0;

/** A quarantined payload is cut to this many bytes (the object itself stays in raw/): the quarantine
 * line must stay under DuckDB's 16 MiB JSON object limit even if every byte is escaped (6x). */
export const QUARANTINE_PAYLOAD_MAX_BYTES = 2 * 1024 * 1024;

export interface ChunkCompaction {
  result: ChunkResult;
  /** Quarantine objects written for bad input and staged by this chunk: consumed with it. */
  quarantineKeys: string[];
}

export interface ChunkInput {
  s3: S3Client;
  bucket: string;
  kind: SourceKind;
  /** The chunk's object keys and their downloaded files, in the same order. */
  keys: string[];
  inputFiles: string[];
  tables: CompactionTable[];
  /** An empty directory of the worker's own: outputs go to subdirectories of it. */
  workDirectory: string;
  writers?: Parameters<typeof compactFiles>[1]["writers"];
}

export async function compactChunkInput(
  connection: DuckDBConnection,
  input: ChunkInput,
): Promise<ChunkCompaction> {
  const compact = (kind: SourceKind, inputFiles: string[], tables: CompactionTable[], out: string) =>
    compactFiles(connection, {
      kind,
      inputFiles,
      tables,
      outDirectory: join(input.workDirectory, out),
      writers: input.writers,
    });
  await mkdir(join(input.workDirectory, "out"), { recursive: true });
  try {
    return { result: await compact(input.kind, input.inputFiles, input.tables, "out"), quarantineKeys: [] };
  } catch (readError) {
    if (isTransient(readError)) throw readError;
    const split = await splitBadInput(input);
    // Nothing in the data is bad: the failure is ours (disk, memory, a bug) and must stay visible.
    if (split.quarantine.length === 0) throw readError;
    for (const directory of ["out-clean", "out-quarantine"])
      await mkdir(join(input.workDirectory, directory), { recursive: true });
    const quarantineFiles = await writeQuarantineObjects(input, split.quarantine);
    let clean: ChunkResult;
    try {
      clean = await compact(input.kind, split.cleanFiles, input.tables, "out-clean");
    } catch (error) {
      throw new Error(
        `the chunk still fails after quarantining ${split.quarantine.length} bad objects: ${(error as Error).message}` +
          ` (first failure: ${(readError as Error).message})`,
        { cause: error },
      );
    }
    const quarantined = await compact(
      "quarantine",
      quarantineFiles,
      [QUARANTINE_COMPACTION_TABLE],
      "out-quarantine",
    );
    return {
      result: mergeResults(clean, quarantined),
      quarantineKeys: split.quarantine.map((q) => q.key),
    };
  }
}

interface QuarantinedObject {
  /** Where its quarantine object goes (deterministic in the bad object's key). */
  key: string;
  records: QuarantineRecord[];
}

/** Each object checked: good ones kept as downloaded, good lines of partly bad ones rewritten. */
async function splitBadInput(
  input: ChunkInput,
): Promise<{ cleanFiles: string[]; quarantine: QuarantinedObject[] }> {
  const cleanDirectory = join(input.workDirectory, "clean");
  await mkdir(cleanDirectory, { recursive: true });
  const cleanFiles: string[] = [];
  const quarantine: QuarantinedObject[] = [];
  for (const [i, rawKey] of input.keys.entries()) {
    const file = input.inputFiles[i] as string;
    const bytes = await readFile(file);
    const inspection = inspectRawObject(input.kind, bytes);
    if (inspection.kind === "good") {
      cleanFiles.push(file);
      continue;
    }
    const source = `s3://${input.bucket}/${rawKey}`;
    if (inspection.kind === "unreadable") {
      quarantine.push({
        key: quarantineKeyFor(rawKey),
        records: [record(rawKey, null, null, [inspection.reason, `in ${source}`], payloadOf(bytes))],
      });
      continue;
    }
    if (inspection.goodLines > 0) {
      const clean = join(cleanDirectory, `${i}.ndjson.gz`);
      // Level 1: a temporary file read once by DuckDB.
      await writeFile(clean, gzipSync(inspection.goodText, { level: 1 }));
      cleanFiles.push(clean);
    }
    quarantine.push({
      key: quarantineKeyFor(rawKey),
      records: inspection.badLines.map((line) =>
        record(
          rawKey,
          line.index,
          line,
          [...line.reasons, `in ${source} line ${line.index + 1}`],
          cappedPayload(line),
        ),
      ),
    });
  }
  return { cleanFiles, quarantine };
}

/** Puts each quarantine object (gzip NDJSON of QuarantineRecord, as the collector writes them). */
async function writeQuarantineObjects(input: ChunkInput, objects: QuarantinedObject[]): Promise<string[]> {
  const directory = join(input.workDirectory, "quarantine");
  await mkdir(directory, { recursive: true });
  const files: string[] = [];
  for (const [i, object] of objects.entries()) {
    const body = gzipSync(object.records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    await input.s3.send(
      new PutObjectCommand({
        Bucket: input.bucket,
        Key: object.key,
        Body: body,
        // As the collector writes it: no Content-Encoding, so readers get the gzip bytes.
        ContentType: "application/gzip",
      }),
    );
    const file = join(directory, `${i}.ndjson.gz`);
    await writeFile(file, body);
    files.push(file);
  }
  return files;
}

/**
 * The quarantine key of a bad object: in the hour prefix it was received in, named by a hash of its
 * key (same object, same key: a retry overwrites; different objects never share one).
 */
export function quarantineKeyFor(rawKey: string): string {
  const hash = createHash("sha256").update(rawKey).digest("hex").slice(0, 24);
  return quarantineObjectKey(receivedAtOf(rawKey), `compaction-${hash}`);
}

/** When the object was received: the ms prefix of its name (collector keys), else its hour's start. */
function receivedAtOf(rawKey: string): Date {
  const { hour, name } = parseHourKey(rawKey);
  const hourStart = new Date(`${hour}:00:00.000Z`);
  const ms = /^(\d{13})-/.exec(name)?.[1];
  const named = ms === undefined ? undefined : new Date(Number(ms));
  // A name's time outside its own hour prefix would put the quarantine object in another hour.
  return named && named.toISOString().slice(0, 13) === hour ? named : hourStart;
}

function record(
  rawKey: string,
  index: number | null,
  line: BadLine | null,
  reasons: string[],
  payload: { text: string; encoding: QuarantineRecord["payload_encoding"]; note?: string },
): QuarantineRecord {
  return {
    // Deterministic, so that a retry writes the same record into the same partition.
    quarantined_at: receivedAtOf(rawKey).toISOString(),
    // The object it came from: with the line index, unique per bad line (the table's dedup key).
    request_id: rawKey,
    correlation_id: line?.correlationId ?? "",
    status: REJECTED_BY_COMPACTION_STATUS,
    index,
    event_id: line?.eventId ?? null,
    event: line?.event ?? null,
    reasons: payload.note ? [...reasons, payload.note] : reasons,
    payload: payload.text,
    payload_encoding: payload.encoding,
  };
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A whole object's bytes: text when UTF-8, base64 otherwise, cut at QUARANTINE_PAYLOAD_MAX_BYTES. */
function payloadOf(bytes: Buffer): { text: string; encoding: "utf8" | "base64"; note?: string } {
  if (bytes.length > QUARANTINE_PAYLOAD_MAX_BYTES) return cut(bytes);
  try {
    return { text: strictUtf8.decode(bytes), encoding: "utf8" };
  } catch {
    return { text: bytes.toString("base64"), encoding: "base64" };
  }
}

function cappedPayload(line: BadLine): { text: string; encoding: BadLine["payloadEncoding"]; note?: string } {
  const bytes = Buffer.from(line.payload, line.payloadEncoding === "base64" ? "base64" : "utf8");
  return bytes.length > QUARANTINE_PAYLOAD_MAX_BYTES
    ? cut(bytes)
    : { text: line.payload, encoding: line.payloadEncoding };
}

function cut(bytes: Buffer): { text: string; encoding: "base64"; note: string } {
  return {
    // base64: a cut may split a UTF-8 character.
    text: bytes.subarray(0, QUARANTINE_PAYLOAD_MAX_BYTES).toString("base64"),
    encoding: "base64",
    note: `payload cut to its first ${QUARANTINE_PAYLOAD_MAX_BYTES} of ${bytes.length} bytes (the object itself stays in raw/)`,
  };
}

function mergeResults(a: ChunkResult, b: ChunkResult): ChunkResult {
  const rowsByTable = { ...a.rowsByTable };
  for (const [table, n] of Object.entries(b.rowsByTable)) rowsByTable[table] = (rowsByTable[table] ?? 0) + n;
  const rowsByPartition: ChunkResult["rowsByPartition"] = {};
  for (const source of [a.rowsByPartition, b.rowsByPartition]) {
    for (const [table, partitions] of Object.entries(source)) {
      const target = rowsByPartition[table] ?? {};
      rowsByPartition[table] = target;
      for (const [partition, n] of Object.entries(partitions))
        target[partition] = (target[partition] ?? 0) + n;
    }
  }
  return {
    rowsIn: a.rowsIn + b.rowsIn,
    duplicates: a.duplicates + b.duplicates,
    rowsByTable,
    rowsByPartition,
    files: [...a.files, ...b.files],
  };
}
