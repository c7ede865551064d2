import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type Transform, transform } from "./transform.js";

export interface PrivateBucketArgs {
  /** Delete the bucket with its objects on `pulumi destroy` (dev stacks). Default false. */
  forceDestroy?: boolean;
  /**
   * Default encryption: SSE-S3, or SSE-KMS when `kmsKeyArn` is given. `false` declares none of our own
   * (S3 still applies its default SSE-S3 to new objects).
   */
  encryption?: { kmsKeyArn?: pulumi.Input<string> } | false;
  /** Disable ACLs (BucketOwnerEnforced): the bucket owner owns every object, whoever wrote it. Default true. */
  ownershipControls?: boolean;
  transform?: {
    bucket?: Transform<aws.s3.BucketArgs>;
    bucketPolicy?: Transform<aws.s3.BucketPolicyArgs>;
  };
}

export interface PrivateBucket {
  bucket: aws.s3.Bucket;
  publicAccessBlock: aws.s3.BucketPublicAccessBlock;
  bucketPolicy: aws.s3.BucketPolicy;
}

/**
 * A private, TLS-only bucket as children of `parent`: the bucket `name`, and `${name}-encryption`,
 * `${name}-public-access`, `${name}-ownership` and `${name}-policy` (a Deny of plain HTTP). A function,
 * not a component, so the children keep the parent (and so the URNs) they had when each component
 * wrote them itself.
 */
export function createPrivateBucket(
  name: string,
  args: PrivateBucketArgs,
  parent: pulumi.Resource,
): PrivateBucket {
  const opts = { parent };
  const bucket = new aws.s3.Bucket(
    ...transform(args.transform?.bucket, name, { forceDestroy: args.forceDestroy ?? false }, opts),
  );
  const bucketArn = bucket.arn;
  if (args.encryption !== false) {
    const kmsKeyArn = args.encryption?.kmsKeyArn;
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket: bucket.id,
        rules: [
          kmsKeyArn
            ? {
                applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: kmsKeyArn },
                // A bucket key cuts KMS requests (and their cost) by orders of magnitude for many small objects.
                bucketKeyEnabled: true,
              }
            : { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true },
        ],
      },
      opts,
    );
  }
  const publicAccessBlock = new aws.s3.BucketPublicAccessBlock(
    `${name}-public-access`,
    {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    },
    opts,
  );
  if (args.ownershipControls ?? true) {
    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      // ACLs disabled: the bucket owner owns every object, whoever wrote it.
      { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } },
      opts,
    );
  }
  const bucketPolicy = new aws.s3.BucketPolicy(
    ...transform(
      args.transform?.bucketPolicy,
      `${name}-policy`,
      {
        bucket: bucket.id,
        // A resource policy Deny of every S3 action over plain HTTP: the one place a wildcard action is the point.
        policy: pulumi.jsonStringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "DenyInsecureTransport",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:*",
              Resource: [bucketArn, pulumi.interpolate`${bucketArn}/*`],
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
          ],
        }),
      },
      // S3 rejects a bucket policy while the public access block is being changed.
      { ...opts, dependsOn: [publicAccessBlock] },
    ),
  );
  return { bucket, publicAccessBlock, bucketPolicy };
}

/** A lifecycle rule expiring objects under `prefix` after `days`, and abandoned multipart uploads after a day. */
export function expirationRule(id: string, prefix: string, days: pulumi.Input<number>) {
  return {
    id,
    status: "Enabled",
    filter: { prefix },
    expiration: { days },
    abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
  };
}
