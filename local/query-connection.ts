/**
 * The local engine as the CLI opens it: over the S3 of a running `observatory dev` when its port
 * answers, otherwise over an s3rver started for the command on the same data directory (so a query
 * works with or without the stack running, on the same data).
 */
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { LOCAL_BUCKET, LOCAL_DATA_DIR, LOCAL_S3_PORT } from "../contracts/local-stack.js";
import { LocalQueryEngine } from "./query-engine.js";
import { localS3Client, startLocalS3 } from "./s3-server.js";
import { portOpen } from "./step-functions/peers.js";

export interface LocalQuerySession {
  engine: LocalQueryEngine;
  /** What was found or started, for the user. */
  notes: string[];
  close(): Promise<void>;
}

export async function openLocalQuerySession(options: {
  dataDir?: string;
  s3Port?: number;
  onSyncProgress?: (done: number, total: number) => void;
}): Promise<LocalQuerySession> {
  const dataDir = options.dataDir ?? LOCAL_DATA_DIR;
  const s3Port = options.s3Port ?? LOCAL_S3_PORT;
  const notes: string[] = [];
  let closeS3: () => Promise<void>;
  let s3: S3Client;
  if (await portOpen(s3Port)) {
    s3 = localS3Client(`http://127.0.0.1:${s3Port}`);
    closeS3 = async () => s3.destroy();
    notes.push(`tables from the running local stack's S3 (port ${s3Port})`);
  } else {
    // Port 0: this s3rver only serves this process; the data directory is what `observatory dev` uses.
    const server = await startLocalS3({ directory: join(dataDir, "s3"), port: 0, bucket: LOCAL_BUCKET });
    s3 = server.client;
    closeS3 = () => server.close();
    notes.push(`no local stack running: read the tables from ${join(dataDir, "s3")}`);
  }
  try {
    const engine = await LocalQueryEngine.open({
      s3,
      bucket: LOCAL_BUCKET,
      cacheDir: join(dataDir, "query-cache"),
      onSyncProgress: options.onSyncProgress,
    });
    return {
      engine,
      notes,
      async close() {
        engine.close();
        await closeS3();
      },
    };
  } catch (error) {
    await closeS3();
    throw error;
  }
}
