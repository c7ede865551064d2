// `etl start --local` uses a running local stack's S3/DynamoDB (given endpoints, or found through the
// data directory's stack.json), and starts its own on the data directory otherwise (ports here are
// free ones, never the dev stack's).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { HeadBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalDynamoDB } from "../local/dynamodb-server.js";
import { startLocalS3 } from "../local/s3-server.js";
import { startLocalStack } from "../local/stack.js";
import { stackFilePath } from "../local/stack-file.js";
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
        s3Endpoint: s3.endpoint,
        dynamodbEndpoint: ddb.endpoint,
      });
      expect(peers.notes).toEqual([
        `S3: the running local stack's S3 at ${s3.endpoint} (given)`,
        `DynamoDB: the running local stack's DynamoDB at ${ddb.endpoint} (given)`,
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

  it("starts s3rver and dynalite on free ports over the data directory when none is running, and stops them after", async () => {
    const dataDir = join(dir, "own");
    const peers = await connectLocalPeers({ dataDir });
    expect(peers.notes[0]).toMatch(/S3: no local stack running/);
    expect(peers.notes[1]).toMatch(/DynamoDB: no local stack running/);
    await peers.s3.send(new PutObjectCommand({ Bucket: peers.bucket, Key: "kept.txt", Body: "x" }));
    await peers.dynamodb.send(new ListTablesCommand({}));
    expect(await readdir(join(dataDir, "s3"))).toContain(peers.bucket);
    const port = Number(new URL(peers.s3Endpoint).port);
    await peers.close();
    expect(await portOpen(port)).toBe(false);
  });

  it("finds a stack on any ports through its data directory's stack.json, and not after it stopped", async () => {
    const dataDir = join(dir, "discovered");
    const stack = await startLocalStack({ dataDir, s3Port: 0, collectorPort: 0, dynamoPort: 0, quiet: true });
    try {
      const peers = await connectLocalPeers({ dataDir });
      expect(peers.s3Endpoint).toBe(stack.s3.endpoint);
      expect(peers.notes).toEqual([
        `S3: the running local stack's S3 at ${stack.s3.endpoint} (from ${join(dataDir, "stack.json")})`,
        `DynamoDB: the running local stack's DynamoDB at ${stack.dynamodb.endpoint} (from ${join(dataDir, "stack.json")})`,
      ]);
      await peers.close();
    } finally {
      await stack.close();
    }
    expect(existsSync(stackFilePath(dataDir))).toBe(false);
    const offline = await connectLocalPeers({ dataDir });
    expect(offline.notes[0]).toMatch(/no local stack running/);
    await offline.close();
  });

  it("ignores a stack.json whose process is gone", async () => {
    const s3 = await startLocalS3({ directory: join(dir, "stale-s3"), port: 0 });
    const dataDir = join(dir, "stale");
    try {
      // A process that has exited: its pid is dead (a crashed or killed `observatory dev`).
      const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
      const pid = Number(dead.stdout.toString());
      await rm(dataDir, { recursive: true, force: true });
      await mkdir(dataDir, { recursive: true });
      await writeFile(
        stackFilePath(dataDir),
        JSON.stringify({
          pid,
          dataDir,
          collector: "http://127.0.0.1:1",
          s3: s3.endpoint,
          dynamodb: "http://127.0.0.1:1",
          bucket: "b",
          apiKey: "k",
          startedAt: "",
        }),
      );
      const peers = await connectLocalPeers({ dataDir });
      expect(peers.s3Endpoint).not.toBe(s3.endpoint);
      expect(peers.notes[0]).toMatch(/no local stack running/);
      await peers.close();
    } finally {
      await s3.close();
    }
  });

  it("an explicit endpoint that does not answer is an error naming its option", async () => {
    const port = await freePort();
    await expect(
      connectLocalPeers({ dataDir: join(dir, "x"), s3Endpoint: `http://127.0.0.1:${port}` }),
    ).rejects.toThrow(`nothing answers at http://127.0.0.1:${port} (--s3-endpoint)`);
  });
});
