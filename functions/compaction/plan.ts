import type { JsonValue } from "../../etl/contracts.js";
import { CHUNK_MAX_BYTES, CHUNK_MAX_OBJECTS } from "./limits.js";
import type { ListedObject } from "./s3-files.js";
import type { SourceKind } from "./transform.js";

/** One manifest item: raw objects of one kind that one worker turns into staged Parquet. */
export interface CompactionChunk {
  [key: string]: JsonValue;
  /** Stable across re-plans of the same run (the run's plan is stored and reused on resume). */
  id: string;
  /** The pipeline bucket: worker invocations get no other context to find it. */
  bucket: string;
  chunk: number;
  kind: SourceKind;
  keys: string[];
  bytes: number;
}

export interface ChunkLimits {
  maxBytes: number;
  maxObjects: number;
}

export const DEFAULT_CHUNK_LIMITS: ChunkLimits = { maxBytes: CHUNK_MAX_BYTES, maxObjects: CHUNK_MAX_OBJECTS };

/**
 * Groups objects into chunks of at most `maxObjects` objects and `maxBytes` bytes (an object larger
 * than maxBytes gets a chunk of its own), in key order - i.e. by received time - per kind.
 */
export function planChunks(
  objects: { kind: SourceKind; object: ListedObject }[],
  bucket: string,
  limits: ChunkLimits = DEFAULT_CHUNK_LIMITS,
): CompactionChunk[] {
  const chunks: CompactionChunk[] = [];
  for (const kind of ["events", "quarantine"] as const) {
    let current: CompactionChunk | undefined;
    const ofKind = objects
      .filter((o) => o.kind === kind)
      .sort((a, b) => (a.object.key < b.object.key ? -1 : 1));
    for (const { object } of ofKind) {
      const full =
        current &&
        (current.keys.length >= limits.maxObjects || current.bytes + object.size > limits.maxBytes);
      if (!current || full) {
        const chunk = chunks.length;
        current = { id: `chunk-${String(chunk).padStart(5, "0")}`, bucket, chunk, kind, keys: [], bytes: 0 };
        chunks.push(current);
      }
      current.keys.push(object.key);
      current.bytes += object.size;
    }
  }
  return chunks;
}
