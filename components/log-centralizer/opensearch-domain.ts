import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { type Transform, transform } from "../transform.js";

/** Smallest production-shaped domain: two nodes in two zones survive the loss of one. */
export const DEFAULT_DOMAIN_INSTANCE_TYPE = "t3.small.search";
export const DEFAULT_DOMAIN_INSTANCE_COUNT = 2;
/** GB of gp3 per node: a few weeks of a small fleet's logs; the S3 archive keeps the rest. */
export const DEFAULT_DOMAIN_VOLUME_GB = 20;
export const DEFAULT_DOMAIN_ENGINE = "OpenSearch_2.19";

/** OpenSearch as a managed domain inside a VPC (instead of a serverless collection). */
export interface OpenSearchDomainOptions {
  kind: "domain";
  instanceType?: string;
  instanceCount?: number;
  volumeSizeGb?: number;
  engineVersion?: string;
  /** An existing VPC; default a new awsx VPC (two zones, one NAT gateway for the consumer's S3 traffic). */
  vpc?: { vpcId: pulumi.Input<string>; privateSubnetIds: pulumi.Input<string[]> };
  /** Principals (role ARNs) allowed to search the domain. */
  readerPrincipalArns?: pulumi.Input<string>[];
}

export interface OpenSearchDomainParts {
  vpc?: awsx.ec2.Vpc;
  domain: aws.opensearch.Domain;
  domainSecurityGroup: aws.ec2.SecurityGroup;
  consumerSecurityGroup: aws.ec2.SecurityGroup;
  /** The subnets the consumer runs in (so it reaches the domain). */
  subnetIds: pulumi.Output<string[]>;
}

/**
 * The VPC, security groups and domain. The consumer reaches the domain on 443 from its own security
 * group only; encryption at rest and between nodes, HTTPS only (TLS 1.2+).
 */
export function createOpenSearchDomain(
  name: string,
  options: OpenSearchDomainOptions,
  parent: pulumi.Resource,
  domainTransform?: Transform<aws.opensearch.DomainArgs>,
): OpenSearchDomainParts {
  const opts = { parent };
  const vpc = options.vpc
    ? undefined
    : new awsx.ec2.Vpc(
        `${name}-vpc`,
        { numberOfAvailabilityZones: 2, natGateways: { strategy: "Single" } },
        opts,
      );
  const vpcId = options.vpc ? pulumi.output(options.vpc.vpcId) : (vpc as awsx.ec2.Vpc).vpcId;
  const subnetIds = options.vpc
    ? pulumi.output(options.vpc.privateSubnetIds)
    : (vpc as awsx.ec2.Vpc).privateSubnetIds;
  const consumerSecurityGroup = new aws.ec2.SecurityGroup(
    `${name}-consumer-sg`,
    {
      vpcId,
      description: "Log consumer: HTTPS out (S3 through the NAT, the OpenSearch domain)",
      egress: [
        { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], description: "HTTPS" },
      ],
    },
    opts,
  );
  const domainSecurityGroup = new aws.ec2.SecurityGroup(
    `${name}-opensearch-sg`,
    {
      vpcId,
      description: "OpenSearch domain: HTTPS from the log consumer only",
      ingress: [
        {
          protocol: "tcp",
          fromPort: 443,
          toPort: 443,
          securityGroups: [consumerSecurityGroup.id],
          description: "log consumer",
        },
      ],
    },
    opts,
  );
  const count = options.instanceCount ?? DEFAULT_DOMAIN_INSTANCE_COUNT;
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`LogCentralizer ${name}: opensearch.instanceCount must be a whole number >= 1`);
  const zoned = count > 1;
  const defaults: aws.opensearch.DomainArgs = {
    engineVersion: options.engineVersion ?? DEFAULT_DOMAIN_ENGINE,
    clusterConfig: {
      instanceType: options.instanceType ?? DEFAULT_DOMAIN_INSTANCE_TYPE,
      instanceCount: count,
      zoneAwarenessEnabled: zoned,
      ...(zoned ? { zoneAwarenessConfig: { availabilityZoneCount: 2 } } : {}),
    },
    ebsOptions: {
      ebsEnabled: true,
      volumeType: "gp3",
      volumeSize: options.volumeSizeGb ?? DEFAULT_DOMAIN_VOLUME_GB,
    },
    encryptAtRest: { enabled: true },
    nodeToNodeEncryption: { enabled: true },
    domainEndpointOptions: { enforceHttps: true, tlsSecurityPolicy: "Policy-Min-TLS-1-2-2019-07" },
    vpcOptions: {
      subnetIds: subnetIds.apply((ids) => (ids ?? []).slice(0, zoned ? 2 : 1)),
      securityGroupIds: [domainSecurityGroup.id],
    },
  };
  const domain = new aws.opensearch.Domain(
    ...transform(domainTransform, `${name}-opensearch`, defaults, opts),
  );
  return { vpc, domain, domainSecurityGroup, consumerSecurityGroup, subnetIds };
}

/** The access policy: the consumer writes, readers read; both only through SigV4-signed requests. */
export function domainAccessPolicy(
  domainArn: pulumi.Input<string>,
  consumerRoleArn: pulumi.Input<string>,
  readerPrincipalArns: pulumi.Input<string>[] = [],
): pulumi.Output<string> {
  return pulumi.jsonStringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { AWS: [consumerRoleArn] },
        Action: ["es:ESHttpPost", "es:ESHttpPut"],
        Resource: pulumi.interpolate`${domainArn}/*`,
      },
      ...(readerPrincipalArns.length > 0
        ? [
            {
              Effect: "Allow",
              Principal: { AWS: readerPrincipalArns },
              Action: ["es:ESHttpGet", "es:ESHttpPost"],
              Resource: pulumi.interpolate`${domainArn}/*`,
            },
          ]
        : []),
    ],
  });
}
