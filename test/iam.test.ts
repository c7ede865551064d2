import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { assumeRolePolicy, policyDocument, statement } from "../components/iam.js";
import {
  installMocks,
  type MockedResource,
  ofType,
  valueOf as outputOf,
  settle,
  typeChain,
} from "./support/pulumi-mocks.js";

let resources: MockedResource[];
beforeAll(async () => {
  resources = await installMocks();
});

interface Doc {
  Version: string;
  Statement: { Effect: string; Action: string[]; Resource: string[]; Condition?: unknown }[];
}

describe("statement", () => {
  it("refuses wildcard actions", () => {
    expect(() => statement({ Action: ["*"], Resource: ["arn:aws:s3:::b/*"] })).toThrow(/wildcard/);
    expect(() => statement({ Action: ["s3:*"], Resource: ["arn:aws:s3:::b/*"] })).toThrow(/wildcard/);
    expect(() => statement({ Action: ["s3:Get*"], Resource: ["arn:aws:s3:::b/*"] })).toThrow(/wildcard/);
    expect(() => statement({ Action: ["PutObject"], Resource: ["arn:aws:s3:::b/*"] })).toThrow(
      /service:Action/,
    );
  });

  it('refuses a "*" resource where the actions take an ARN, allows it where AWS has no ARN', () => {
    expect(() => statement({ Action: ["s3:PutObject"], Resource: ["*"] })).toThrow(/grant on the ARN/);
    expect(() => statement({ Action: ["xray:PutTraceSegments", "s3:GetObject"], Resource: ["*"] })).toThrow(
      /s3:GetObject/,
    );
    expect(() => statement({ Action: ["xray:PutTraceSegments"], Resource: ["*"] })).not.toThrow();
  });

  it("refuses empty actions or resources", () => {
    expect(() => statement({ Action: [], Resource: ["arn:aws:s3:::b"] })).toThrow(/no actions/);
    expect(() => statement({ Action: ["s3:GetObject"], Resource: [] })).toThrow(/no resources/);
  });
});

describe("policyDocument", () => {
  it("merges statements with equal actions into one and resolves Output resources", async () => {
    const doc = JSON.parse(
      await outputOf(
        policyDocument([
          { Action: ["s3:PutObject"], Resource: [pulumi.output("arn:aws:s3:::b/raw/*")] },
          { Action: ["s3:PutObject"], Resource: ["arn:aws:s3:::b/quarantine/*", "arn:aws:s3:::b/raw/*"] },
          {
            Action: ["secretsmanager:GetSecretValue"],
            Resource: ["arn:aws:secretsmanager:us-east-1:1:secret:k"],
          },
        ]),
      ),
    ) as Doc;
    expect(doc.Version).toBe("2012-10-17");
    expect(doc.Statement).toEqual([
      {
        Effect: "Allow",
        Action: ["s3:PutObject"],
        Resource: ["arn:aws:s3:::b/raw/*", "arn:aws:s3:::b/quarantine/*"],
      },
      {
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: ["arn:aws:secretsmanager:us-east-1:1:secret:k"],
      },
    ]);
  });

  it("keeps statements with different conditions apart", async () => {
    const cond = { StringEquals: { "s3:x-amz-server-side-encryption": "AES256" } };
    const doc = JSON.parse(
      await outputOf(
        policyDocument([
          { Action: ["s3:PutObject"], Resource: ["arn:aws:s3:::b/a/*"] },
          { Action: ["s3:PutObject"], Resource: ["arn:aws:s3:::b/b/*"], Condition: cond },
        ]),
      ),
    ) as Doc;
    expect(doc.Statement).toHaveLength(2);
    expect(doc.Statement[1]?.Condition).toEqual(cond);
  });

  it("throws at construction for a bad statement", () => {
    expect(() => policyDocument([{ Action: ["iam:*"], Resource: ["arn:aws:iam::1:role/x"] }])).toThrow(
      /wildcard/,
    );
  });

  it("trust policy names the service", () => {
    expect(JSON.parse(assumeRolePolicy("lambda.amazonaws.com"))).toEqual({
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
      ],
    });
  });
});

describe("LambdaFunction", () => {
  it("builds role, log group, policy and an arm64 nodejs22.x function, all parented", async () => {
    const { LambdaFunction } = await import("../components/lambda-function.js");
    const fn = new LambdaFunction("probe", {
      code: new pulumi.asset.AssetArchive({
        "index.mjs": new pulumi.asset.StringAsset("export const handler=async()=>1"),
      }),
      handler: "index.handler",
      tracing: true,
      logRetentionDays: 14,
      environment: { A: pulumi.output("b") },
      statements: [statement({ Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::bucket/key"] })],
      transform: { function: { memorySize: 1024 } },
    });
    await outputOf(fn.arn);
    await settle();
    for (const child of [fn.role, fn.logGroup, fn.policy, fn.function]) {
      expect(await typeChain(child)).toMatch(/^observatory:aws:LambdaFunction\$aws:/);
    }
    const f = ofType(resources, "aws:lambda/function:Function").find((r) => r.name === "probe-function");
    expect(f?.inputs).toMatchObject({
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      handler: "index.handler",
      memorySize: 1024,
      tracingConfig: { mode: "Active" },
      environment: { variables: { A: "b", NODE_OPTIONS: "--enable-source-maps" } },
    });
    const lg = ofType(resources, "aws:cloudwatch/logGroup:LogGroup").find((r) => r.name === "probe-logs");
    expect(lg?.inputs.retentionInDays).toBe(14);
    const policy = ofType(resources, "aws:iam/rolePolicy:RolePolicy").find((r) => r.name === "probe-policy");
    const doc = JSON.parse(policy?.inputs.policy as string) as Doc;
    const actions = doc.Statement.flatMap((s) => s.Action);
    expect(actions).toEqual(
      expect.arrayContaining([
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "s3:GetObject",
      ]),
    );
    for (const s of doc.Statement) {
      for (const a of s.Action) expect(a).not.toContain("*");
      if (s.Resource.includes("*")) expect(s.Action.every((a) => a.startsWith("xray:"))).toBe(true);
    }
    const logs = doc.Statement.find((s) => s.Action.includes("logs:PutLogEvents"));
    expect(logs?.Resource).toEqual([
      expect.stringMatching(/^arn:aws:logs:.*:log-group:\/aws\/lambda\/probe-.*:\*$/),
    ]);
  });

  it("refuses to build without code", async () => {
    const { LambdaFunction } = await import("../components/lambda-function.js");
    expect(() => new LambdaFunction("nothing", {})).toThrow(/entry or code/);
  });
});
