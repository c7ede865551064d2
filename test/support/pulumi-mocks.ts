import * as pulumi from "@pulumi/pulumi";

/** One resource the program registered under mocks, with the inputs it was given. */
export interface MockedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  custom: boolean;
}

const ACCOUNT = "123456789012";
const REGION = "us-east-1";

/** ARNs shaped like AWS's, so policies built from them look like the real thing. */
function arnFor(type: string, name: string): string {
  const [, mod = "", kind = ""] = type.split(":");
  const service = mod.split("/")[0] ?? mod;
  switch (type) {
    case "aws:s3/bucket:Bucket":
      return `arn:aws:s3:::${name}`;
    case "aws:cloudwatch/logGroup:LogGroup":
      return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${name}`;
    case "aws:lambda/function:Function":
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
    case "aws:iam/role:Role":
      return `arn:aws:iam::${ACCOUNT}:role/${name}`;
    case "aws:sfn/stateMachine:StateMachine":
      return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
    case "aws:dynamodb/table:Table":
      return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
    case "aws:sns/topic:Topic":
      return `arn:aws:sns:${REGION}:${ACCOUNT}:${name}`;
    default:
      return `arn:aws:${service}:${REGION}:${ACCOUNT}:${kind.toLowerCase()}/${name}`;
  }
}

/**
 * Install Pulumi mocks (once per test file, before any resource is constructed) and return the list
 * that every registered resource is appended to.
 */
export async function installMocks(config: Record<string, string> = {}): Promise<MockedResource[]> {
  const resources: MockedResource[] = [];
  if (Object.keys(config).length > 0) process.env.PULUMI_CONFIG = JSON.stringify(config);
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        resources.push({ type: args.type, name: args.name, inputs, custom: args.custom ?? true });
        // Auto-naming: a namePrefix gets a random-looking suffix, like the provider does.
        const prefix = inputs.namePrefix as string | undefined;
        const physical =
          (inputs.name as string | undefined) ?? (prefix ? `${prefix}abc123` : `${args.name}-abc123`);
        // Auto-named resources get their physical name as `name`, as the provider reports it.
        const state: Record<string, unknown> = {
          ...inputs,
          name: physical,
          arn: arnFor(args.type, physical),
        };
        if (args.type === "aws:cloudwatch/logGroup:LogGroup") state.name = physical;
        if (args.type === "aws:sfn/stateMachine:StateMachine" || args.type === "aws:dynamodb/table:Table")
          state.name = physical;
        if (args.type === "aws:s3/bucket:Bucket") state.bucket = physical;
        if (args.type === "aws:lambda/function:Function") {
          state.name = physical;
          state.invokeArn = `arn:aws:apigateway:${REGION}:lambda:path/2015-03-31/functions/${state.arn}/invocations`;
        }
        if (args.type === "aws:apigatewayv2/api:Api") {
          state.apiEndpoint = `https://${args.name}.execute-api.${REGION}.amazonaws.com`;
          state.executionArn = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${args.name}`;
        }
        if (args.type === "aws:apigatewayv2/stage:Stage") {
          state.invokeUrl = `https://${args.name}.execute-api.${REGION}.amazonaws.com/${inputs.name ?? "$default"}`;
        }
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        if (args.token === "aws:index/getCallerIdentity:getCallerIdentity") {
          return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/test`, userId: "test" };
        }
        if (args.token === "aws:index/getRegion:getRegion")
          return { name: REGION, region: REGION, id: REGION };
        if (args.token === "aws:index/getPartition:getPartition")
          return { partition: "aws", dnsSuffix: "amazonaws.com" };
        return args.inputs;
      },
    },
    "observatory",
    "test",
    false,
  );
  return resources;
}

/** The resolved value of an Output (under mocks every Output resolves). */
// biome-ignore lint/suspicious/noShadowRestrictedNames: the name other test files import; a module export shadows nothing.
export function valueOf<T>(output: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}

/** Resources of one type, in registration order. */
export function ofType(resources: MockedResource[], type: string): MockedResource[] {
  return resources.filter((r) => r.type === type);
}

/** The parent chain of a resource as its URN encodes it (`observatory:aws:MetricPipeline$aws:s3/bucket:Bucket`). */
export async function typeChain(resource: pulumi.Resource): Promise<string> {
  const urn = await valueOf(resource.urn);
  return urn.split("::")[2] ?? "";
}

/** Wait until every resource registered so far has resolved its inputs. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 10));
}
