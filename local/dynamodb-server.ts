import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LOCAL_CREDENTIALS, LOCAL_DYNAMODB_PORT, LOCAL_REGION } from "../contracts/local-stack.js";

const require = createRequire(import.meta.url);
const dynalite = require("dynalite") as (options: Record<string, unknown>) => Server;

export interface LocalDynamoDB {
  endpoint: string;
  port: number;
  client: DynamoDBClient;
  close(): Promise<void>;
}

export function localDynamoDBClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

/**
 * Starts dynalite. With `directory` its LevelDB store persists there; without, it is in memory.
 * Tables are created by whoever needs them (the ETL ledger creates its own).
 */
export async function startLocalDynamoDB(
  options: { directory?: string; port?: number } = {},
): Promise<LocalDynamoDB> {
  if (options.directory) await mkdir(options.directory, { recursive: true });
  const server = dynalite({
    path: options.directory,
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? LOCAL_DYNAMODB_PORT, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoDBClient(endpoint);
  return {
    endpoint,
    port,
    client,
    async close() {
      client.destroy();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    },
  };
}
