import * as pulumi from "@pulumi/pulumi";

/**
 * One IAM statement contributed by a resource (a bucket grants s3:PutObject on its own prefix...).
 * Statements are merged into one policy document per role.
 */
export interface PolicyStatement {
  Sid?: string;
  Effect?: "Allow" | "Deny";
  Action: string[];
  Resource: pulumi.Input<string>[];
  Condition?: Record<string, Record<string, pulumi.Input<string | string[]>>>;
}

/** Vended-log delivery of a state machine's role (AWS documents Resource "*" for these). */
export const VENDED_LOG_DELIVERY_ACTIONS: readonly string[] = [
  "logs:CreateLogDelivery",
  "logs:GetLogDelivery",
  "logs:UpdateLogDelivery",
  "logs:DeleteLogDelivery",
  "logs:ListLogDeliveries",
  "logs:PutResourcePolicy",
  "logs:DescribeResourcePolicies",
];

/**
 * Actions AWS does not allow to scope to a resource ARN, so `"Resource": "*"` is the only choice.
 * Anything else with a `*` resource is refused: an ARN exists and must be named.
 */
export const ACTIONS_WITHOUT_RESOURCE_SCOPE: ReadonlySet<string> = new Set([
  "xray:PutTraceSegments",
  "xray:PutTelemetryRecords",
  "xray:GetSamplingRules",
  "xray:GetSamplingTargets",
  "cloudwatch:PutMetricData",
  "logs:DescribeLogGroups",
  "athena:ListWorkGroups",
  "states:ListStateMachines",
  ...VENDED_LOG_DELIVERY_ACTIONS,
]);

/** An action with a wildcard grants more than the code calls; name every action instead. */
function checkAction(action: string): void {
  if (action.includes("*")) {
    throw new Error(
      `IAM action ${JSON.stringify(action)} contains a wildcard; list the exact actions the code calls`,
    );
  }
  if (!/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(action)) {
    throw new Error(`IAM action ${JSON.stringify(action)} is not of the form service:Action`);
  }
}

function checkResource(resource: string, actions: string[]): void {
  if (resource === "*" && !actions.every((a) => ACTIONS_WITHOUT_RESOURCE_SCOPE.has(a))) {
    const scoped = actions.filter((a) => !ACTIONS_WITHOUT_RESOURCE_SCOPE.has(a));
    throw new Error(
      `IAM resource "*" refused for ${scoped.join(", ")}: these actions take a resource ARN; grant on the ARN`,
    );
  }
}

/**
 * Validate a statement: throws at construction for a wildcard action or a `*` resource where an ARN
 * exists. Resources that are still Outputs are checked when they resolve.
 */
export function statement(s: PolicyStatement): PolicyStatement {
  if (s.Action.length === 0) throw new Error("IAM statement has no actions");
  if (s.Resource.length === 0) throw new Error(`IAM statement for ${s.Action.join(", ")} has no resources`);
  for (const a of s.Action) checkAction(a);
  for (const r of s.Resource) if (typeof r === "string") checkResource(r, s.Action);
  return s;
}

type ResolvedStatement = Omit<PolicyStatement, "Resource" | "Condition"> & {
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
};

/**
 * Merge statements into one policy document (JSON). Statements with the same effect, actions and
 * condition are folded into one with the union of their resources, so many contributors stay small.
 */
export function policyDocument(statements: PolicyStatement[]): pulumi.Output<string> {
  const validated = statements.map(statement);
  return pulumi.output(validated).apply((resolved) => {
    const merged = new Map<string, ResolvedStatement>();
    for (const s of resolved as ResolvedStatement[]) {
      for (const r of s.Resource) checkResource(r, s.Action);
      const effect = s.Effect ?? "Allow";
      const actions = [...new Set(s.Action)].sort();
      const key = JSON.stringify([effect, actions, s.Condition ?? null, s.Sid ?? null]);
      const existing = merged.get(key);
      if (existing) {
        existing.Resource = [...new Set([...existing.Resource, ...s.Resource])];
      } else {
        merged.set(key, {
          ...(s.Sid ? { Sid: s.Sid } : {}),
          Effect: effect,
          Action: actions,
          Resource: [...new Set(s.Resource)],
          ...(s.Condition ? { Condition: s.Condition } : {}),
        });
      }
    }
    return JSON.stringify({ Version: "2012-10-17", Statement: [...merged.values()] });
  });
}

/** Trust policy letting one AWS service assume a role. */
export function assumeRolePolicy(service: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
  });
}
