// `etl start --local` uses a running local stack's S3/DynamoDB when their ports answer, and starts
// its own on the data directory otherwise (ports here are free ones, never the dev stack's).
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { HeadBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalDynamoDB } from "../local/dynamodb-server.js";
import { startLocalS3 } from "../local/s3-server.js";
import { connectLocalPeers, portOpen } from "../local/step-functions/peers.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "obs-etl-peers-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A port nothing listens on (taken from the OS, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("local peers for etl start --local", () => {
  it("uses the servers already listening (a running `observatory dev`)", async () => {
    const s3 = await startLocalS3({ directory: join(dir, "dev-s3"), port: 0 });
    const ddb = await startLocalDynamoDB({ port: 0 });
    try {
      const peers = await connectLocalPeers({
        dataDir: join(dir, "unused"),
        s3Port: s3.port,
        dynamodbPort: ddb.port,
      });
      expect(peers.notes).toEqual([
        `S3: the running local stack on port ${s3.port}`,
        `DynamoDB: the running local stack on port ${ddb.port}`,
      ]);
      await peers.s3.send(new PutObjectCommand({ Bucket: peers.bucket, Key: "probe.txt", Body: "x" }));
      await peers.close();
      // The servers are not ours to stop: they still answer.
      await s3.client.send(new HeadBucketCommand({ Bucket: s3.bucket }));
      expect(await portOpen(ddb.port)).toBe(true);
    } finally {
      await s3.close();
      await ddb.close();
    }
  });

  it("starts s3rver and dynalite on the data directory when none is running, and stops them after", async () => {
    const [s3Port, dynamodbPort] = [await freePort(), await freePort()];
    const dataDir = join(dir, "own");
    const peers = await connectLocalPeers({ dataDir, s3Port, dynamodbPort });
    expect(peers.notes[0]).toMatch(/started s3rver/);
    expect(peers.notes[1]).toMatch(/started dynalite/);
    await peers.s3.send(new PutObjectCommand({ Bucket: peers.bucket, Key: "kept.txt", Body: "x" }));
    await peers.dynamodb.send(new ListTablesCommand({}));
    expect(await readdir(join(dataDir, "s3"))).toContain(peers.bucket);
    await peers.close();
    expect(await portOpen(s3Port)).toBe(false);
    expect(await portOpen(dynamodbPort)).toBe(false);
  });
});
