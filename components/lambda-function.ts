import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { BUNDLE_HANDLER, type BundleOptions, handlerArchive } from "./bundle.js";
import { assumeRolePolicy, type PolicyStatement, policyDocument, statement } from "./iam.js";
import { type Transform, transform } from "./transform.js";

/** The Lambda runtime every Observatory function runs on. */
export const LAMBDA_RUNTIME = "nodejs22.x";
/** Graviton: about 20% cheaper per GB-second than x86_64 for the same work. */
export const DEFAULT_ARCHITECTURE = "arm64";
export const DEFAULT_MEMORY_MB = 512;
export const DEFAULT_TIMEOUT_SECONDS = 30;
/** A month of logs is enough to debug; longer retention is a cost the caller opts into. */
export const DEFAULT_LOG_RETENTION_DAYS = 30;

export interface LambdaFunctionArgs {
  /** A TypeScript handler entry bundled with esbuild (`functions/<name>/handler.ts` or a user's file). */
  entry?: string;
  bundle?: BundleOptions;
  /** Prebuilt code instead of `entry` (then `handler` too). */
  code?: pulumi.asset.Archive;
  handler?: string;
  description?: pulumi.Input<string>;
  memorySize?: pulumi.Input<number>;
  timeout?: pulumi.Input<number>;
  architecture?: "arm64" | "x86_64";
  environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** X-Ray active tracing (switch on by config). */
  tracing?: boolean;
  layers?: pulumi.Input<pulumi.Input<string>[]>;
  reservedConcurrency?: pulumi.Input<number>;
  logRetentionDays?: pulumi.Input<number>;
  /** What the function may do beyond writing its own logs; each a least-privilege statement. */
  statements?: PolicyStatement[];
  transform?: {
    role?: Transform<aws.iam.RoleArgs>;
    logGroup?: Transform<aws.cloudwatch.LogGroupArgs>;
    policy?: Transform<aws.iam.RolePolicyArgs>;
    function?: Transform<aws.lambda.FunctionArgs>;
  };
}

/**
 * One Lambda function with its own role, log group (with retention) and inline policy built from
 * the statements its resources contribute. Type `observatory:aws:LambdaFunction`.
 */
export class LambdaFunction extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;
  readonly logGroup: aws.cloudwatch.LogGroup;
  readonly policy: aws.iam.RolePolicy;
  readonly function: aws.lambda.Function;
  readonly arn: pulumi.Output<string>;
  readonly name: pulumi.Output<string>;
  readonly invokeArn: pulumi.Output<string>;

  constructor(name: string, args: LambdaFunctionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("observatory:aws:LambdaFunction", name, {}, opts);
    if (!args.entry && !args.code) throw new Error(`LambdaFunction ${name}: give either entry or code`);
    if (args.code && !args.handler) throw new Error(`LambdaFunction ${name}: prebuilt code needs a handler`);
    const parent = { parent: this };

    this.role = new aws.iam.Role(
      ...transform(
        args.transform?.role,
        `${name}-role`,
        { assumeRolePolicy: assumeRolePolicy("lambda.amazonaws.com"), description: `Lambda ${name}` },
        parent,
      ),
    );

    this.logGroup = new aws.cloudwatch.LogGroup(
      ...transform(
        args.transform?.logGroup,
        `${name}-logs`,
        {
          namePrefix: `/aws/lambda/${name}-`,
          retentionInDays: args.logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS,
        },
        parent,
      ),
    );

    const statements: PolicyStatement[] = [
      statement({
        Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [pulumi.interpolate`${this.logGroup.arn}:*`],
      }),
      ...(args.tracing
        ? [statement({ Action: ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], Resource: ["*"] })]
        : []),
      ...(args.statements ?? []),
    ];
    this.policy = new aws.iam.RolePolicy(
      ...transform(
        args.transform?.policy,
        `${name}-policy`,
        { role: this.role.id, policy: policyDocument(statements) },
        parent,
      ),
    );

    const environment = pulumi.output(args.environment ?? {}).apply((vars) => ({
      // Stack traces through the bundle's source map.
      NODE_OPTIONS: "--enable-source-maps",
      ...vars,
    }));

    this.function = new aws.lambda.Function(
      ...transform(
        args.transform?.function,
        `${name}-function`,
        {
          runtime: LAMBDA_RUNTIME,
          architectures: [args.architecture ?? DEFAULT_ARCHITECTURE],
          code: args.code ?? handlerArchive(args.entry as string, args.bundle),
          handler: args.handler ?? BUNDLE_HANDLER,
          role: this.role.arn,
          description: args.description,
          memorySize: args.memorySize ?? DEFAULT_MEMORY_MB,
          timeout: args.timeout ?? DEFAULT_TIMEOUT_SECONDS,
          environment: { variables: environment },
          layers: args.layers,
          reservedConcurrentExecutions: args.reservedConcurrency,
          tracingConfig: { mode: args.tracing ? "Active" : "PassThrough" },
          // Our handlers already write one JSON object a line; Text keeps them unwrapped for metric filters.
          loggingConfig: { logFormat: "Text", logGroup: this.logGroup.name },
        },
        // The policy must exist before the first invocation can write logs or objects.
        { ...parent, dependsOn: [this.policy, this.logGroup] },
      ),
    );

    this.arn = this.function.arn;
    this.name = this.function.name;
    this.invokeArn = this.function.invokeArn;
    this.registerOutputs({
      arn: this.arn,
      name: this.name,
      roleArn: this.role.arn,
      logGroupName: this.logGroup.name,
    });
  }
}
