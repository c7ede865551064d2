// LogCentralizer under Pulumi mocks: the resource graph, IAM (no "*"), filters per log group and
// AWS's limit of two, the consumer's own log group never subscribed, the Glue table and alarms.
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { LOGS_COLUMNS, SUBSCRIPTION_FILTER_PREFIX } from "../contracts/logs-table.js";
import {
  installMocks,
  type MockedResource,
  ofType,
  valueOf as resolved,
  settle,
  typeChain,
} from "./support/pulumi-mocks.js";

const resources: MockedResource[] = await installMocks();
const { LogCentralizer, correlationQuery } = await import("../components/log-centralizer.js");

const LAYER = { arn: "arn:aws:lambda:us-east-1:123456789012:layer:duckdb:1" };
const byName = (name: string) => {
  const found = resources.find((r) => r.name === name);
  if (!found) throw new Error(`no resource ${name}; have ${resources.map((r) => r.name).join(", ")}`);
  return found;
};
const inputs = <T>(r: MockedResource, key: string) => resolved(r.inputs[key] as pulumi.Input<T>);
interface Statement {
  Effect: string;
  Action: string[];
  Resource: string[];
}

describe("LogCentralizer", () => {
  it("subscribes each log group once, with a permission scoped to that group, retention and the service in the filter name", async () => {
    const logs = new LogCentralizer("logs", {
      duckdbLayer: LAYER,
      logGroups: ["/aws/lambda/checkout", { name: "/ecs/search", service: "search" }],
      retentionInDays: 14,
    });
    logs.addService({
      serviceName: "images",
      functionLogGroups: {
        resize: pulumi.output("/aws/lambda/images-resize-abc"),
        thumb: "/aws/lambda/images-thumb",
      },
    });
    await settle();

    const filters = ofType(resources, "aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter").filter(
      (r) => r.name.startsWith("logs-"),
    );
    expect(filters.map((f) => f.name).sort()).toEqual([
      "logs-filter-checkout",
      "logs-filter-ecs-search",
      "logs-filter-images-resize",
      "logs-filter-images-thumb",
    ]);
    const consumerArn = await resolved(logs.consumer.arn);
    for (const f of filters) {
      expect(await inputs(f, "destinationArn")).toBe(consumerArn);
      expect(await inputs(f, "filterPattern")).toBe("");
    }
    expect(await inputs(byName("logs-filter-checkout"), "name")).toBe(
      `${SUBSCRIPTION_FILTER_PREFIX}checkout`,
    );
    expect(await inputs(byName("logs-filter-ecs-search"), "name")).toBe(
      `${SUBSCRIPTION_FILTER_PREFIX}search`,
    );
    expect(await inputs(byName("logs-filter-images-resize"), "logGroup")).toBe(
      "/aws/lambda/images-resize-abc",
    );
    expect(await inputs(byName("logs-filter-images-resize"), "name")).toBe(
      `${SUBSCRIPTION_FILTER_PREFIX}images`,
    );

    const permission = byName("logs-invoke-checkout");
    expect(permission.inputs).toMatchObject({
      action: "lambda:InvokeFunction",
      principal: "logs.amazonaws.com",
    });
    expect(await inputs(permission, "sourceArn")).toBe(
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/checkout:*",
    );
    expect(await inputs(byName("logs-invoke-images-resize"), "sourceArn")).toBe(
      "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/images-resize-abc:*",
    );

    // Retention on the plain groups it manages; a service's groups belong to the service.
    expect(byName("logs-group-checkout").inputs).toMatchObject({
      name: "/aws/lambda/checkout",
      retentionInDays: 14,
    });
    expect(resources.some((r) => r.name === "logs-group-images-thumb")).toBe(false);

    // Every child is parented under the component.
    expect(await typeChain(logs.subscriptionFilters.checkout!)).toBe(
      "observatory:aws:LogCentralizer$aws:cloudwatch/logSubscriptionFilter:LogSubscriptionFilter",
    );
    expect(await typeChain(logs.table)).toBe(
      "observatory:aws:LogCentralizer$aws:glue/catalogTable:CatalogTable",
    );

    // The Glue table: the contract's columns, dt + service projected, services known as an enum.
    const table = byName("logs-table-logs");
    const sd = await inputs<{ columns: { name: string }[] }>(table, "storageDescriptor");
    expect(sd.columns.map((c) => c.name)).toEqual(LOGS_COLUMNS.map((c) => c.name));
    expect((await inputs<{ name: string }[]>(table, "partitionKeys")).map((k) => k.name)).toEqual([
      "dt",
      "service",
    ]);
    const params = await inputs<Record<string, string>>(table, "parameters");
    expect(params).toMatchObject({
      "projection.enabled": "true",
      "projection.dt.type": "date",
      "projection.dt.format": "yyyy-MM-dd",
    });
    expect(params["projection.service.type"]).toBe("enum");
    expect(params["projection.service.values"]).toBe("checkout,images,search");
    expect(params["storage.location.template"]).toMatch(
      /^s3:\/\/.+\/tables\/logs\/dt=\$\{dt\}\/service=\$\{service\}\/$/,
    );

    // Logs Insights query over every subscribed group.
    const query = byName("logs-query-correlation-id");
    expect(await inputs<string[]>(query, "logGroupNames")).toEqual([
      "/aws/lambda/checkout",
      "/ecs/search",
      "/aws/lambda/images-resize-abc",
      "/aws/lambda/images-thumb",
    ]);
    expect(await inputs(query, "queryString")).toBe(correlationQuery());
    expect(correlationQuery('abc"1')).toContain('filter correlation_id = "abc\\"1"');

    // Alarm on the consumer's errors.
    const alarm = byName("logs-consumer-errors");
    expect(alarm.inputs).toMatchObject({
      namespace: "AWS/Lambda",
      metricName: "Errors",
      threshold: 0,
      comparisonOperator: "GreaterThanThreshold",
    });
    expect(await inputs<Record<string, string>>(alarm, "dimensions")).toEqual({
      FunctionName: await resolved(logs.consumer.name),
    });
  });

  it("gives the consumer least privilege: PutObject on its own prefixes only, no wildcard action or resource", async () => {
    const policy = JSON.parse(await inputs<string>(byName("logs-consumer-policy"), "policy")) as {
      Statement: Statement[];
    };
    const bucket =
      (await resolved(byName("logs-archive").inputs.bucket as string | undefined)) ?? "logs-archive-abc123";
    for (const s of policy.Statement) {
      for (const a of s.Action) expect(a).not.toContain("*");
      for (const r of s.Resource) expect(r).not.toBe("*");
    }
    const put = policy.Statement.find((s) => s.Action.includes("s3:PutObject"))!;
    expect(put.Action).toEqual(["s3:PutObject"]);
    const dlqArn =
      (await resolved(byName("logs-consumer-dlq").inputs.arn as string | undefined)) ??
      "arn:aws:sqs:us-east-1:123456789012:queue/logs-consumer-dlq-abc123";
    expect(policy.Statement.find((st) => st.Action.includes("sqs:SendMessage"))!.Resource).toEqual([dlqArn]);
    const asyncConfig = byName("logs-consumer-async");
    expect(asyncConfig.inputs).toMatchObject({ maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21600 });
    expect(await inputs<{ onFailure: { destination: string } }>(asyncConfig, "destinationConfig")).toEqual({
      onFailure: { destination: dlqArn },
    });
    expect(byName("logs-consumer-dlq-depth").inputs).toMatchObject({
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      threshold: 0,
    });
    expect(put.Resource.sort()).toEqual(
      [
        `arn:aws:s3:::${bucket}/tables/logs/*`,
        `arn:aws:s3:::${bucket}/quarantine/logs/*`,
        `arn:aws:s3:::${bucket}/quarantine/logs-opensearch/*`,
      ].sort(),
    );
    const fn = byName("logs-consumer-function");
    expect(fn.inputs).toMatchObject({
      runtime: "nodejs22.x",
      architectures: ["arm64"],
      memorySize: 1024,
      layers: [LAYER.arn],
    });
    expect(
      (await inputs<{ variables: Record<string, string> }>(fn, "environment")).variables.ARCHIVE_BUCKET,
    ).toBe(bucket);
  });

  it("keeps the archive bucket private, encrypted and TLS-only", async () => {
    expect(byName("logs-archive-public-access").inputs).toMatchObject({
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    const enc = await inputs<{ applyServerSideEncryptionByDefault: { sseAlgorithm: string } }[]>(
      byName("logs-archive-encryption"),
      "rules",
    );
    expect(enc[0]!.applyServerSideEncryptionByDefault.sseAlgorithm).toBe("AES256");
    const policy = JSON.parse(await inputs<string>(byName("logs-archive-policy"), "policy"));
    expect(policy.Statement[0]).toMatchObject({
      Effect: "Deny",
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
  });

  it("refuses a group listed twice, a third filter on a group, a service added too late, and its own log group", async () => {
    expect(
      () => new LogCentralizer("dup", { duckdbLayer: LAYER, logGroups: ["/aws/lambda/a", "/aws/lambda/a"] }),
    ).toThrow(/listed twice/);
    expect(
      () =>
        new LogCentralizer("full", {
          duckdbLayer: LAYER,
          logGroups: ["/aws/lambda/busy"],
          existingSubscriptionFilters: { "/aws/lambda/busy": 2 },
        }),
    ).toThrow(/already has 2 subscription filter\(s\); AWS allows 2/);
    // Two centralizers may share a group (2 filters), a third may not.
    new LogCentralizer("first", { duckdbLayer: LAYER, logGroups: ["/aws/lambda/shared"] });
    new LogCentralizer("second", { duckdbLayer: LAYER, logGroups: ["/aws/lambda/shared"] });
    expect(
      () => new LogCentralizer("third", { duckdbLayer: LAYER, logGroups: ["/aws/lambda/shared"] }),
    ).toThrow(/already has 2/);
    const late = new LogCentralizer("late", { duckdbLayer: LAYER, logGroups: ["/aws/lambda/early"] });
    await settle();
    expect(() => late.addLogGroups({ name: "/aws/lambda/later", service: "later" })).toThrow(
      /added after the logs table's service list was built/,
    );
    late.addLogGroups({ name: "/aws/lambda/early-2", service: "early" }); // a known service may still gain groups
    const self = new LogCentralizer("selfish", { duckdbLayer: LAYER });
    expect(() => self.addLogGroups("/aws/lambda/selfish-consumer-abc123")).toThrow(
      /consumer's own log group/,
    );
  });

  it("adds an OpenSearch Serverless collection with the consumer as the only writer", async () => {
    const logs = new LogCentralizer("os", {
      duckdbLayer: LAYER,
      opensearch: { readerPrincipalArns: ["arn:aws:iam::123456789012:role/analyst"] },
    });
    await settle();
    const collection = byName("os-collection");
    expect(collection.inputs).toMatchObject({ name: "os-logs", type: "SEARCH" });
    const access = JSON.parse(await inputs<string>(byName("os-opensearch-access"), "policy"));
    expect(access[0].Principal).toEqual([await resolved(logs.consumer.role.arn)]);
    expect(access[0].Rules[0].Permission).toContain("aoss:WriteDocument");
    expect(access[1].Rules[0].Permission).not.toContain("aoss:WriteDocument");
    const env = (
      await inputs<{ variables: Record<string, string> }>(byName("os-consumer-function"), "environment")
    ).variables;
    expect(env.OPENSEARCH_SIGV4_SERVICE).toBe("aoss");
    const policy = JSON.parse(await inputs<string>(byName("os-consumer-policy"), "policy")) as {
      Statement: Statement[];
    };
    const aoss = policy.Statement.find((s) => s.Action.includes("aoss:APIAccessAll"))!;
    expect(aoss.Resource).toEqual([await resolved(logs.collection!.arn)]);
  });
  it("builds an OpenSearch domain in an awsx VPC, reachable from the consumer's security group only", async () => {
    const logs = new LogCentralizer("dom", {
      duckdbLayer: LAYER,
      opensearch: { kind: "domain", readerPrincipalArns: ["arn:aws:iam::123456789012:role/analyst"] },
    });
    await settle();
    expect(byName("dom-vpc")).toMatchObject({
      type: "awsx:ec2:Vpc",
      inputs: { numberOfAvailabilityZones: 2, natGateways: { strategy: "Single" } },
    });
    const domain = byName("dom-opensearch");
    expect(domain.inputs).toMatchObject({
      encryptAtRest: { enabled: true },
      nodeToNodeEncryption: { enabled: true },
      domainEndpointOptions: { enforceHttps: true, tlsSecurityPolicy: "Policy-Min-TLS-1-2-2019-07" },
      clusterConfig: { instanceCount: 2, zoneAwarenessEnabled: true },
    });
    const consumerSg = logs.opensearchDomain!.consumerSecurityGroup;
    const ingress = await inputs<
      { fromPort: number; toPort: number; securityGroups: string[]; cidrBlocks?: string[] }[]
    >(byName("dom-opensearch-sg"), "ingress");
    expect(ingress).toEqual([
      expect.objectContaining({
        fromPort: 443,
        toPort: 443,
        securityGroups: [await resolved(consumerSg.id)],
      }),
    ]);
    expect(ingress[0]!.cidrBlocks).toBeUndefined();

    const fn = byName("dom-consumer-function");
    expect(await inputs<{ securityGroupIds: string[] }>(fn, "vpcConfig")).toMatchObject({
      securityGroupIds: [await resolved(consumerSg.id)],
    });
    expect(byName("dom-consumer-role").inputs.managedPolicyArns).toEqual([
      "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    ]);
    expect(
      (await inputs<{ variables: Record<string, string> }>(fn, "environment")).variables
        .OPENSEARCH_SIGV4_SERVICE,
    ).toBe("es");

    const domainArn = await resolved(logs.opensearchDomain!.domain.arn);
    const policy = JSON.parse(await inputs<string>(byName("dom-consumer-policy"), "policy")) as {
      Statement: Statement[];
    };
    expect(policy.Statement.find((st) => st.Action.includes("es:ESHttpPost"))).toMatchObject({
      Action: ["es:ESHttpPost", "es:ESHttpPut"],
      Resource: [`${domainArn}/*`],
    });
    const access = JSON.parse(await inputs<string>(byName("dom-opensearch-policy"), "accessPolicies"));
    expect(access.Statement[0]).toMatchObject({
      Principal: { AWS: [await resolved(logs.consumer.role.arn)] },
      Action: ["es:ESHttpPost", "es:ESHttpPut"],
      Resource: `${domainArn}/*`,
    });
    expect(access.Statement[1].Action).not.toContain("es:ESHttpPut");
    expect(resources.some((r) => r.name === "dom-collection")).toBe(false);
  });
});
