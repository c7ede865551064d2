// Shared by the collector tests: real-shaped API Gateway events and readers of what landed in S3.
import { randomUUID } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2 } from "aws-lambda";
import { listKeys, readNdjsonGz, readNdjsonGzMany } from "../local/s3-ndjson.js";

export interface RequestSpec {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** Objects are sent as JSON text; Buffers as base64 (as API Gateway does for binary bodies). */
  body?: unknown;
  requestId?: string;
}

function encodeBody(body: unknown): { body?: string; isBase64Encoded: boolean } {
  if (body === undefined) return { isBase64Encoded: false };
  if (Buffer.isBuffer(body)) return { body: body.toString("base64"), isBase64Encoded: true };
  return { body: typeof body === "string" ? body : JSON.stringify(body), isBase64Encoded: false };
}

/** An HTTP API (payload 2.0) event as API Gateway delivers it. */
export function httpApiEvent(spec: RequestSpec = {}): APIGatewayProxyEventV2 {
  const method = spec.method ?? "POST";
  const path = spec.path ?? "/v1/batch";
  const now = Date.now();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: {
      "content-type": "application/json",
      "x-api-key": "test-key",
      "user-agent": "test-agent/1.0",
      ...spec.headers,
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.eu-west-1.amazonaws.com",
      domainPrefix: "abc123",
      http: {
        method,
        path,
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.7",
        userAgent: spec.headers?.["user-agent"] ?? "test-agent/1.0",
      },
      requestId: spec.requestId ?? randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...encodeBody(spec.body),
  };
}

/** A REST API (v1) proxy event as API Gateway delivers it (mixed-case headers, identity block). */
export function restApiEvent(spec: RequestSpec = {}): APIGatewayProxyEvent {
  const method = spec.method ?? "POST";
  const path = spec.path ?? "/v1/batch";
  const headers = {
    "Content-Type": "application/json",
    "X-Api-Key": "test-key",
    "User-Agent": "rest-agent/2.0",
    ...spec.headers,
  };
  const encoded = encodeBody(spec.body);
  return {
    resource: path,
    path,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: encoded.body ?? null,
    isBase64Encoded: encoded.isBase64Encoded,
    requestContext: {
      accountId: "123456789012",
      apiId: "rest123",
      authorizer: undefined,
      protocol: "HTTP/1.1",
      httpMethod: method,
      path: `/prod${path}`,
      stage: "prod",
      requestId: spec.requestId ?? randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: "res123",
      resourcePath: path,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: "198.51.100.9",
        user: null,
        userAgent: "rest-agent/2.0",
        userArn: null,
      },
    },
  };
}

/** A stored line (raw or quarantine record): loosely typed, because tests read fields of both kinds. */
type Line = any;

/** Every object under `prefix` (all pages), gunzipped and split into parsed NDJSON lines, in key order. */
export async function readNdjsonObjects(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ key: string; lines: Line[] }[]> {
  return readNdjsonGzMany<Line>(s3, bucket, await listKeys(s3, bucket, prefix));
}

/** One object's lines, or undefined when it does not exist. */
export async function readNdjsonObject(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<Line[] | undefined> {
  try {
    return await readNdjsonGz<Line>(s3, bucket, key);
  } catch (error) {
    if ((error as { name?: string }).name === "NoSuchKey") return undefined;
    throw error;
  }
}
