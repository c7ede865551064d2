// A small IAM evaluator for tests: record the AWS calls code really makes (S3, DynamoDB) through
// local peers, as IAM requests, and check them against a policy document a component wrote.
// Covers what our policies use: Allow statements, `*`/`?` wildcards in resources, StringLike
// conditions. Not an IAM engine: no Deny, NotAction, or other condition operators.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { localDynamoDBClient } from "../../local/dynamodb-server.js";
import { localS3Client } from "../../local/s3-server.js";

/** One AWS request as IAM sees it: the action, the resource ARN, and the condition keys it carries. */
export interface IamRequest {
  action: string;
  resource: string;
  context: Record<string, string>;
}
export interface IamStatement {
  Effect: string;
  Action: string[];
  Resource: string[];
  Condition?: { StringLike?: Record<string, string[]> };
}

/** IAM's `*` / `?` wildcards in ARNs and StringLike conditions. */
function globMatch(pattern: string, value: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replaceAll("*", ".*")
    .replaceAll("?", ".");
  return new RegExp(`^${re}$`).test(value);
}

/** Allowed when one Allow statement names the action, matches the resource and its StringLike conditions. */
export function allows(policy: { Statement: IamStatement[] }, request: IamRequest): boolean {
  return policy.Statement.some(
    (s) =>
      s.Effect === "Allow" &&
      s.Action.includes(request.action) &&
      s.Resource.some((r) => globMatch(r, request.resource)) &&
      Object.entries(s.Condition?.StringLike ?? {}).every(([key, patterns]) =>
        patterns.some((p) => request.context[key] !== undefined && globMatch(p, request.context[key])),
      ),
  );
}

const S3_ACTIONS: Record<string, (input: Record<string, string>) => IamRequest> = {
  GetObjectCommand: (i) => ({
    action: "s3:GetObject",
    resource: `arn:aws:s3:::${i.Bucket}/${i.Key}`,
    context: {},
  }),
  PutObjectCommand: (i) => ({
    action: "s3:PutObject",
    resource: `arn:aws:s3:::${i.Bucket}/${i.Key}`,
    context: {},
  }),
  ListObjectsV2Command: (i) => ({
    action: "s3:ListBucket",
    resource: `arn:aws:s3:::${i.Bucket}`,
    context: { "s3:prefix": i.Prefix ?? "" },
  }),
};

/** A client for the local peer that records each request as an IAM request of `principal`. */
export function recordingS3(endpoint: string, log: IamRequest[]): S3Client {
  const client = localS3Client(endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const toRequest = S3_ACTIONS[context.commandName ?? ""];
      if (!toRequest) throw new Error(`no IAM mapping for ${context.commandName}; add it to the test`);
      log.push(toRequest(args.input as Record<string, string>));
      return next(args);
    },
    { step: "initialize", name: "recordIamRequest" },
  );
  return client;
}

export function recordingDynamoDB(
  endpoint: string,
  tableArnOf: (table: string) => string,
  log: IamRequest[],
): DynamoDBClient {
  const client = localDynamoDBClient(endpoint);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const action = `dynamodb:${(context.commandName ?? "").replace(/Command$/, "")}`;
      log.push({
        action,
        resource: tableArnOf((args.input as { TableName: string }).TableName),
        context: {},
      });
      return next(args);
    },
    { step: "initialize", name: "recordIamRequest" },
  );
  return client;
}
