/**
 * S3 and DynamoDB for a local ETL run: those of a running `observatory dev` when its ports answer
 * (same data, so the dev stack sees the results), otherwise started in-process on the same data
 * directory for the command's duration.
 */
import { createConnection } from "node:net";
import { join } from "node:path";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  LOCAL_BUCKET,
  LOCAL_DATA_DIR,
  LOCAL_DYNAMODB_PORT,
  LOCAL_S3_PORT,
} from "../../contracts/local-stack.js";
import { localDynamoDBClient, startLocalDynamoDB } from "../dynamodb-server.js";
import { localS3Client, startLocalS3 } from "../s3-server.js";

/** A refused connection answers at once; anything slower than this is not a local server we can use. */
const PROBE_TIMEOUT_MS = 500;

export interface LocalPeers {
  s3: S3Client;
  s3Endpoint: string;
  bucket: string;
  dynamodb: DynamoDBClient;
  /** What was found or started, for the user: e.g. "S3 of a running `observatory dev` (port 4569)". */
  notes: string[];
  close(): Promise<void>;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export async function connectLocalPeers(
  o: { dataDir?: string; s3Port?: number; dynamodbPort?: number } = {},
): Promise<LocalPeers> {
  const dataDir = o.dataDir ?? LOCAL_DATA_DIR;
  const s3Port = o.s3Port ?? LOCAL_S3_PORT;
  const dynamodbPort = o.dynamodbPort ?? LOCAL_DYNAMODB_PORT;
  const closers: (() => Promise<void>)[] = [];
  const notes: string[] = [];
  try {
    let s3: S3Client;
    const s3Endpoint = `http://127.0.0.1:${s3Port}`;
    if (await portOpen(s3Port)) {
      s3 = localS3Client(s3Endpoint);
      closers.push(async () => s3.destroy());
      notes.push(`S3: the running local stack on port ${s3Port}`);
    } else {
      const server = await startLocalS3({
        directory: join(dataDir, "s3"),
        port: s3Port,
        bucket: LOCAL_BUCKET,
      });
      s3 = server.client;
      closers.push(() => server.close());
      notes.push(`S3: started s3rver on port ${s3Port} for this command (data in ${join(dataDir, "s3")})`);
    }
    let dynamodb: DynamoDBClient;
    if (await portOpen(dynamodbPort)) {
      dynamodb = localDynamoDBClient(`http://127.0.0.1:${dynamodbPort}`);
      closers.push(async () => dynamodb.destroy());
      notes.push(`DynamoDB: the running local stack on port ${dynamodbPort}`);
    } else {
      const server = await startLocalDynamoDB({ directory: join(dataDir, "dynamodb"), port: dynamodbPort });
      dynamodb = server.client;
      closers.push(() => server.close());
      notes.push(
        `DynamoDB: started dynalite on port ${dynamodbPort} for this command (data in ${join(dataDir, "dynamodb")})`,
      );
    }
    return {
      s3,
      s3Endpoint,
      bucket: LOCAL_BUCKET,
      dynamodb,
      notes,
      async close() {
        for (const close of closers.reverse()) await close();
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => {});
    throw error;
  }
}
