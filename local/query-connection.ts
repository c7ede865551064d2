/**
 * The local engine as the CLI opens it: over the S3 of a running `observatory dev` (found as every
 * command finds it: local/stack-connection.ts), otherwise over an s3rver started for the command on
 * the same data directory (so a query works with or without the stack running, on the same data).
 */
import { join } from "node:path";
import { LOCAL_BUCKET } from "../contracts/local-stack.js";
import { useStackSchemas } from "./event-schemas.js";
import { LocalQueryEngine } from "./query-engine.js";
import { dataDirOf, type LocalStackTargetOptions, openLocalS3 } from "./stack-connection.js";

export interface LocalQuerySession {
  engine: LocalQueryEngine;
  /** What was found or started, for the user. */
  notes: string[];
  close(): Promise<void>;
}

export async function openLocalQuerySession(
  options: LocalStackTargetOptions & {
    /** Shorthand for s3Endpoint http://127.0.0.1:<port>. */
    s3Port?: number;
    /** Glue database names queries may qualify tables with (LocalQueryEngineOptions.databases). */
    databases?: readonly string[];
    onSyncProgress?: (done: number, total: number) => void;
  },
): Promise<LocalQuerySession> {
  const s3 = await openLocalS3(
    {
      ...options,
      s3Endpoint: options.s3Endpoint ?? (options.s3Port ? `http://127.0.0.1:${options.s3Port}` : undefined),
    },
    { readOnly: true },
  );
  try {
    const engine = await LocalQueryEngine.open({
      s3: s3.client,
      bucket: LOCAL_BUCKET,
      cacheDir: join(dataDirOf(options), "query-cache"),
      databases: options.databases,
      // The per-event tables of the schemas the stack declared (as its compaction writes them).
      eventSchemas: useStackSchemas(dataDirOf(options)).schemas,
      onSyncProgress: options.onSyncProgress,
    });
    return {
      engine,
      notes: [s3.note],
      async close() {
        engine.close();
        await s3.close();
      },
    };
  } catch (error) {
    await s3.close();
    throw error;
  }
}
