/**
 * The EtlFleet's state machine definition and role statements, from etl/definition.ts (Pulumi-free)
 * once the Outputs it points at have resolved. No resource is created here.
 */
import * as pulumi from "@pulumi/pulumi";
import { buildEtlDefinition, type EtlRefs, type IamNeed, selfIamNeeds } from "../../etl/definition.js";
import type { ResolvedEtlJobSpec } from "../../etl/job-spec.js";
import { type PolicyStatement, statement, VENDED_LOG_DELIVERY_ACTIONS } from "../iam.js";

/** What the definition points at, as the component has them (Outputs). */
export interface FleetRefs {
  planner: pulumi.Input<string>;
  worker: pulumi.Input<string>;
  finalizer: pulumi.Input<string>;
  bucketName: pulumi.Input<string>;
  ledgerTableName: pulumi.Input<string>;
  ledgerTableArn: pulumi.Input<string>;
  manifestPrefix: string;
  resultsPrefix: string;
}

/**
 * Log delivery of the state machine to CloudWatch Logs. These CloudWatch Logs actions take no
 * resource ARN (AWS documents `"Resource": "*"` for Step Functions logging), so none can be named.
 */
export const EXECUTION_LOGGING_STATEMENT: PolicyStatement = statement({
  Sid: "DeliverExecutionLogs",
  Action: [...VENDED_LOG_DELIVERY_ACTIONS, "logs:DescribeLogGroups"],
  Resource: ["*"],
});

export function needToStatement(need: IamNeed): PolicyStatement {
  return statement({ Sid: need.sid, Action: need.actions, Resource: need.resources });
}

export interface FleetDefinition {
  /** The ASL as the state machine gets it (JSON text). */
  definition: pulumi.Output<string>;
  /** The role statements the definition's states need (Lambda, S3 manifest/results, ledger). */
  statements: pulumi.Output<PolicyStatement[]>;
}

export function stateMachineDefinition(spec: ResolvedEtlJobSpec, refs: FleetRefs): FleetDefinition {
  const built = pulumi
    .all([
      refs.planner,
      refs.worker,
      refs.finalizer,
      refs.bucketName,
      refs.ledgerTableName,
      refs.ledgerTableArn,
    ])
    .apply(([plannerArn, workerArn, finalizerArn, bucket, ledgerTable, ledgerTableArn]) => {
      const plain: EtlRefs = {
        plannerArn,
        workerArn,
        finalizerArn,
        bucket,
        manifestPrefix: refs.manifestPrefix,
        resultsPrefix: refs.resultsPrefix,
        ledgerTable,
        ledgerTableArn,
      };
      return buildEtlDefinition(spec, plain);
    });
  return {
    definition: built.apply((b) => JSON.stringify(b.definition)),
    statements: built.apply((b) => b.iam.map(needToStatement)),
  };
}

/** Statements on the machine itself (a Distributed Map starts, describes and stops its own children). */
export function selfStatements(stateMachineArn: pulumi.Input<string>): pulumi.Output<PolicyStatement[]> {
  return pulumi.output(stateMachineArn).apply((arn) => selfIamNeeds(arn).map(needToStatement));
}

/**
 * Trust policy for a service acting for this account only: `aws:SourceAccount` keeps another
 * account's state machine or schedule from using the role (AWS's confused-deputy advice).
 */
export function serviceTrustPolicy(service: string, accountId: pulumi.Input<string>): pulumi.Output<string> {
  return pulumi.output(accountId).apply((account) =>
    JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: service },
          Action: "sts:AssumeRole",
          Condition: { StringEquals: { "aws:SourceAccount": account } },
        },
      ],
    }),
  );
}
