/**
 * S3 and DynamoDB for a local ETL run: those of a running `observatory dev` (found as every command
 * finds it: local/stack-connection.ts), so the dev stack sees the results; otherwise started
 * in-process on free ports over the same data directory for the command's duration.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { LOCAL_BUCKET } from "../../contracts/local-stack.js";
import {
  endpointAnswers,
  type LocalStackTargetOptions,
  openLocalDynamoDB,
  openLocalS3,
} from "../stack-connection.js";

export interface LocalPeers {
  s3: S3Client;
  s3Endpoint: string;
  bucket: string;
  dynamodb: DynamoDBClient;
  /** What was found or started, for the user: e.g. "S3: the running local stack's S3 at ...". */
  notes: string[];
  close(): Promise<void>;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return endpointAnswers(`http://127.0.0.1:${port}`);
}

export async function connectLocalPeers(o: LocalStackTargetOptions = {}): Promise<LocalPeers> {
  const s3 = await openLocalS3(o);
  try {
    const dynamodb = await openLocalDynamoDB(o);
    return {
      s3: s3.client,
      s3Endpoint: s3.endpoint,
      bucket: LOCAL_BUCKET,
      dynamodb: dynamodb.client,
      notes: [s3.note, dynamodb.note],
      async close() {
        await dynamodb.close();
        await s3.close();
      },
    };
  } catch (error) {
    await s3.close().catch(() => {});
    throw error;
  }
}
