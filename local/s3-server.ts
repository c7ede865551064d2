import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { LOCAL_BUCKET, LOCAL_CREDENTIALS, LOCAL_REGION, LOCAL_S3_PORT } from "../contracts/local-stack.js";
import { installS3rverDesShim } from "./s3rver-des-shim.js";

// s3rver is CommonJS without types; a narrow interface of what we use.
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
installS3rverDesShim();
const require = createRequire(import.meta.url);
const S3rver = require("s3rver") as new (options: Record<string, unknown>) => S3rverInstance;

export interface LocalS3 {
  endpoint: string;
  port: number;
  bucket: string;
  /** A client configured for this server (path-style addressing, dummy credentials). */
  client: S3Client;
  close(): Promise<void>;
}

/** A client for an S3-compatible endpoint on this machine. */
export function localS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: LOCAL_REGION,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
}

/**
 * Starts s3rver with its data under `directory` and makes sure `bucket` exists.
 * Port 0 picks a free port (tests); the local stack uses LOCAL_S3_PORT.
 */
export async function startLocalS3(options: {
  directory: string;
  port?: number;
  bucket?: string;
  silent?: boolean;
}): Promise<LocalS3> {
  const bucket = options.bucket ?? LOCAL_BUCKET;
  await mkdir(options.directory, { recursive: true });
  const server = new S3rver({
    address: "127.0.0.1",
    port: options.port ?? LOCAL_S3_PORT,
    directory: options.directory,
    silent: options.silent ?? true,
    // The SDK signs with the dummy credentials; s3rver need not verify them.
    allowMismatchedSignatures: true,
    vhostBuckets: false,
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localS3Client(endpoint);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw error;
  }
  return {
    endpoint,
    port,
    bucket,
    client,
    async close() {
      client.destroy();
      await server.close();
    },
  };
}
