// What the AWS commands say when the SDK has no region or no credentials, and which region their
// clients use. The clients here are the real SDK ones (no mock): the SDK fails on region and
// credentials before it sends anything, so these run offline.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  awsClientConfig,
  awsConfigProblem,
  NO_CREDENTIALS_MESSAGE,
  NO_REGION_MESSAGE,
  regionFromArn,
} from "../cli/aws-config.js";
import { runQueryCommand } from "../cli/commands/query.js";
import { buildProgram } from "../cli/main.js";
import { explainAwsError } from "../etl/aws-client.js";

const EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:sm:run1";
const MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:sm";

/** Nothing the SDK could take a region or credentials from: no env, no profile files, no instance metadata. */
const NO_AWS_CONFIG: Record<string, string | undefined> = {
  AWS_REGION: undefined,
  AWS_DEFAULT_REGION: undefined,
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: "observatory-test-no-such-profile",
  AWS_CONFIG_FILE: "/nonexistent/observatory-test/config",
  AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/observatory-test/credentials",
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
  AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
};
let saved: Record<string, string | undefined>;

function setEnv(values: Record<string, string | undefined>) {
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

beforeEach(() => {
  saved = Object.fromEntries(Object.keys(NO_AWS_CONFIG).map((k) => [k, process.env[k]]));
  setEnv(NO_AWS_CONFIG);
  process.exitCode = undefined;
});
afterEach(() => {
  setEnv(saved);
  process.exitCode = undefined;
});

async function run(...args: string[]): Promise<void> {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(["node", "observatory", ...args]);
  } finally {
    log.mockRestore();
  }
}

describe("the region of an AWS command", () => {
  it("comes from the ARN, else --region, else is left to the SDK", () => {
    expect(regionFromArn(EXECUTION)).toBe("us-east-1");
    expect(regionFromArn("arn:aws-cn:states:cn-north-1:123456789012:stateMachine:sm")).toBe("cn-north-1");
    expect(regionFromArn("arn:aws:iam::123456789012:role/x")).toBeUndefined();
    expect(regionFromArn("wordcount")).toBeUndefined();
    expect(awsClientConfig({ arn: EXECUTION })).toEqual({ region: "us-east-1" });
    expect(awsClientConfig({ arn: EXECUTION, region: "us-east-1" })).toEqual({ region: "us-east-1" });
    expect(awsClientConfig({ region: "eu-west-1" })).toEqual({ region: "eu-west-1" });
    expect(awsClientConfig({})).toEqual({});
    expect(() => awsClientConfig({ arn: EXECUTION, region: "eu-west-1" })).toThrow(
      /--region eu-west-1 contradicts .* which is in us-east-1/,
    );
  });
});

describe("no region, no credentials: one message everywhere", () => {
  it("maps the SDK's configuration errors and leaves others alone", () => {
    expect(awsConfigProblem(new Error("Region is missing"))).toBe(NO_REGION_MESSAGE);
    const noCredentials = Object.assign(new Error("Could not load credentials from any providers"), {
      name: "CredentialsProviderError",
    });
    expect(awsConfigProblem(noCredentials)).toBe(
      `${NO_CREDENTIALS_MESSAGE} (Could not load credentials from any providers)`,
    );
    expect(awsConfigProblem(new Error("AccessDenied"))).toBeUndefined();
    expect(explainAwsError(new Error("Region is missing"), "reading the ledger t").message).toBe(
      `reading the ledger t: ${NO_REGION_MESSAGE}`,
    );
  });

  it("etl runs on AWS without a region says to set AWS_REGION or pass --region", async () => {
    await expect(run("etl", "runs", "wordcount", "--ledger-table", "wordcount-ledger")).rejects.toThrow(
      `reading the ledger wordcount-ledger: ${NO_REGION_MESSAGE}`,
    );
  });

  it("etl runs --region reaches the SDK: then it is the credentials that are missing", async () => {
    await expect(
      run("etl", "runs", "wordcount", "--ledger-table", "wordcount-ledger", "--region", "eu-west-1"),
    ).rejects.toThrow(/no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  });

  it("etl status <execution ARN> takes the region from the ARN, not 'Region is missing'", async () => {
    const error = await run("etl", "status", EXECUTION).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toBe(
      `describing ${EXECUTION}: ${NO_CREDENTIALS_MESSAGE} (Could not load credentials from any providers)`,
    );
  });

  it("etl start <state machine ARN> takes the region from the ARN too", async () => {
    await expect(run("etl", "start", MACHINE)).rejects.toThrow(/: no AWS credentials: set AWS_PROFILE/);
  });

  it("query --athena says the same", async () => {
    const io = { stdout: process.stdout, stderr: process.stderr, env: {} };
    await expect(
      runQueryCommand("SELECT 1", { athena: true, workgroup: "wg", format: "json" }, io),
    ).rejects.toThrow(NO_REGION_MESSAGE);
    await expect(
      runQueryCommand("SELECT 1", { athena: true, workgroup: "wg", region: "eu-west-1", format: "json" }, io),
    ).rejects.toThrow(/^no AWS credentials: set AWS_PROFILE/);
  });
});
