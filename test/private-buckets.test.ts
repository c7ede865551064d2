// Every bucket any component creates is private, encrypted, owner-enforced and TLS-only: a secure
// default must not depend on which component a user happens to compose.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  installMocks,
  type MockedResource,
  ofType,
  valueOf as resolved,
  settle,
} from "./support/pulumi-mocks.js";

const resources: MockedResource[] = await installMocks();
const { EtlFleet } = await import("../components/etl-fleet.js");
const { LogCentralizer } = await import("../components/log-centralizer.js");
const { MetricPipeline } = await import("../components/metric-pipeline.js");

const fixtures = join(import.meta.dirname, "fixtures", "etl-fleet");

describe("buckets of every component", () => {
  it("each has encryption, a public access block, owner-enforced ownership and a TLS-only policy", async () => {
    new MetricPipeline("metrics", { compaction: false });
    new LogCentralizer("logs", {
      duckdbLayer: { arn: "arn:aws:lambda:us-east-1:123456789012:layer:duckdb:1" },
      logGroups: ["/aws/lambda/checkout"],
    });
    new EtlFleet("fleet", {
      planner: { entry: join(fixtures, "planner.ts") },
      worker: { entry: join(fixtures, "worker.ts") },
    });
    await settle();

    const buckets = ofType(resources, "aws:s3/bucket:Bucket").map((b) => b.name);
    expect(buckets.length).toBeGreaterThanOrEqual(3);
    const named = (type: string) => new Map(ofType(resources, type).map((r) => [r.name, r]));
    const encryption = named(
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    );
    const publicAccess = named("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
    const ownership = named("aws:s3/bucketOwnershipControls:BucketOwnershipControls");
    const policies = named("aws:s3/bucketPolicy:BucketPolicy");
    for (const bucket of buckets) {
      expect(encryption.has(`${bucket}-encryption`), `${bucket} encryption`).toBe(true);
      const block = publicAccess.get(`${bucket}-public-access`)?.inputs;
      expect(block, `${bucket} public access block`).toMatchObject({
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      });
      const rule = ownership.get(`${bucket}-ownership`)?.inputs.rule as
        | { objectOwnership?: string }
        | undefined;
      expect(rule?.objectOwnership, `${bucket} ownership`).toBe("BucketOwnerEnforced");
      const policy = JSON.parse(
        await resolved(policies.get(`${bucket}-policy`)!.inputs.policy as string),
      ) as {
        Statement: { Effect: string; Condition?: { Bool?: Record<string, string> } }[];
      };
      expect(
        policy.Statement.some(
          (s) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === "false",
        ),
        `${bucket} TLS-only`,
      ).toBe(true);
    }
  });
});
