import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  paginateListObjectsV2,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalDynamoDB, startLocalDynamoDB } from "../local/dynamodb-server.js";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";

describe("local peers", () => {
  let dir: string;
  let s3: LocalS3;
  let ddb: LocalDynamoDB;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-peers-"));
    s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
    ddb = await startLocalDynamoDB({ directory: join(dir, "ddb"), port: 0 });
  });
  afterAll(async () => {
    await s3?.close();
    await ddb?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("stores and returns an S3 object byte for byte", async () => {
    const body = Buffer.from([0x1f, 0x8b, 0, 255, 10, 13]);
    await s3.client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "raw/dt=2026-01-01/hour=00/x.gz", Body: body }),
    );
    const got = await s3.client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: "raw/dt=2026-01-01/hour=00/x.gz" }),
    );
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
  });

  it("lists past one page of 1,000 keys (s3rver's DES continuation tokens work on OpenSSL 3)", async () => {
    const keys = Array.from({ length: 1_050 }, (_, i) => `many/${String(i).padStart(5, "0")}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys
          .slice(i, i + 50)
          .map((Key) => s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: "x" }))),
      );
    }
    const first = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "many/" }));
    expect(first.IsTruncated).toBe(true);
    const listed: string[] = [];
    for await (const page of paginateListObjectsV2(
      { client: s3.client },
      { Bucket: s3.bucket, Prefix: "many/" },
    )) {
      listed.push(...(page.Contents ?? []).map((o) => o.Key!));
    }
    expect(listed).toEqual(keys);
  });

  it("persists a DynamoDB item on disk", async () => {
    await ddb.client.send(
      new CreateTableCommand({
        TableName: "ledger",
        AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    await ddb.client.send(
      new PutItemCommand({ TableName: "ledger", Item: { pk: { S: "a" }, n: { N: "1" } } }),
    );
    const got = await ddb.client.send(new GetItemCommand({ TableName: "ledger", Key: { pk: { S: "a" } } }));
    expect(got.Item?.n?.N).toBe("1");
  });
});
