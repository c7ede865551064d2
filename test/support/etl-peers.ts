import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalDynamoDB, startLocalDynamoDB } from "../../local/dynamodb-server.js";
import { type LocalS3, startLocalS3 } from "../../local/s3-server.js";
import type { LocalPeers } from "../../local/step-functions/peers.js";

/** What a local ETL run needs: a temp directory, s3rver over it and an in-memory dynalite, on free ports. */
export interface EtlPeers {
  dir: string;
  s3: LocalS3;
  ddb: LocalDynamoDB;
  close(): Promise<void>;
}

export async function startEtlPeers(prefix: string): Promise<EtlPeers> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
  const ddb = await startLocalDynamoDB({ port: 0 });
  return {
    dir,
    s3,
    ddb,
    async close() {
      await s3.close();
      await ddb.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The peers as `etl start --local` takes them from a test (io.peers): left open after each run. */
export function asLocalPeers({ s3, ddb }: Pick<EtlPeers, "s3" | "ddb">): LocalPeers {
  return {
    s3: s3.client,
    s3Endpoint: s3.endpoint,
    bucket: s3.bucket,
    dynamodb: ddb.client,
    notes: [],
    close: async () => {},
  };
}
