/**
 * Where a command's AWS clients point, and what to say when the SDK has no region or no credentials.
 * One place for every command on the AWS path (query --athena, etl, trace --athena), so the advice
 * is the same wherever a user meets it.
 */

/** What every AWS command says when the SDK found no region (its own text is a bare "Region is missing"). */
export const NO_REGION_MESSAGE = "no AWS region: set AWS_REGION or pass --region";

/** What every AWS command says when the SDK's provider chain found no credentials. */
export const NO_CREDENTIALS_MESSAGE =
  "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role provides them";

/** arn:<partition>:<service>:<region>:<account>:<resource>; global services leave the region empty. */
const ARN = /^arn:[a-z0-9-]+:[a-z0-9-]+:([a-z0-9-]*):/;

/** The region an ARN names (`arn:aws:states:us-east-1:...` -> us-east-1), if any. */
export function regionFromArn(arn: string): string | undefined {
  return ARN.exec(arn)?.[1] || undefined;
}

/**
 * The region a command's client must use: the resource's own (from its ARN) when one is known - a
 * call to another region could not find it - else `--region`; undefined leaves it to the SDK
 * (AWS_REGION, the profile's region). A `--region` that contradicts the ARN is refused, not guessed.
 */
export function awsRegion(options: { region?: string; arn?: string }): string | undefined {
  const fromArn = options.arn ? regionFromArn(options.arn) : undefined;
  if (fromArn && options.region && options.region !== fromArn) {
    throw new Error(`--region ${options.region} contradicts ${options.arn}, which is in ${fromArn}`);
  }
  return fromArn ?? options.region;
}

/** Client configuration for awsRegion's answer: `{}` lets the SDK resolve the region itself. */
export function awsClientConfig(options: { region?: string; arn?: string }): { region?: string } {
  const region = awsRegion(options);
  return region ? { region } : {};
}

/**
 * NO_REGION_MESSAGE / NO_CREDENTIALS_MESSAGE for the SDK's configuration errors; undefined for any
 * other error (the caller explains those).
 */
export function awsConfigProblem(error: unknown): string | undefined {
  const e = error as { name?: string; message?: string } | undefined;
  if (/^Region is missing/i.test(e?.message ?? "")) return NO_REGION_MESSAGE;
  if (e?.name === "CredentialsProviderError") return `${NO_CREDENTIALS_MESSAGE} (${e.message})`;
  return undefined;
}

/** The error itself, or an Error with awsConfigProblem's message when it is a configuration error. */
export function explainAwsConfigError(error: unknown): unknown {
  const problem = awsConfigProblem(error);
  return problem ? new Error(problem) : error;
}
