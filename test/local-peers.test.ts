import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateTableCommand, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalS3, startLocalS3 } from "../local/s3-server.js";
import { type LocalDynamoDB, startLocalDynamoDB } from "../local/dynamodb-server.js";

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
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "raw/dt=2026-01-01/hour=00/x.gz", Body: body }));
    const got = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "raw/dt=2026-01-01/hour=00/x.gz" }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(body);
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
    await ddb.client.send(new PutItemCommand({ TableName: "ledger", Item: { pk: { S: "a" }, n: { N: "1" } } }));
    const got = await ddb.client.send(new GetItemCommand({ TableName: "ledger", Key: { pk: { S: "a" } } }));
    expect(got.Item?.n?.N).toBe("1");
  });
});
