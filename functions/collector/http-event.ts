import type {
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
} from "aws-lambda";

/** What the collector needs from a request, whichever API Gateway flavour delivered it. */
export interface CollectorRequest {
  method: string;
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Raw body bytes (base64 already decoded), or an empty buffer. */
  body: Buffer;
  /** The body as API Gateway delivered it when that was text (not base64): `body` is its UTF-8. */
  bodyText?: string;
  requestId: string;
  sourceIp: string | null;
  userAgent: string | null;
}

/** HTTP API (payload 2.0) or REST API (v1) proxy event. */
export type GatewayEvent = APIGatewayProxyEventV2 | APIGatewayProxyEvent;

/** Both API flavours accept this result shape (statusCode, headers, body, isBase64Encoded). */
export type GatewayResult = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

export function isHttpApiEvent(event: GatewayEvent): event is APIGatewayProxyEventV2 {
  return (
    (event as APIGatewayProxyEventV2).version === "2.0" ||
    "http" in ((event as APIGatewayProxyEventV2).requestContext ?? {})
  );
}

function lowerCaseHeaders(
  headers: Record<string, string | undefined> | null | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value !== undefined) out[name.toLowerCase()] = value;
  }
  return out;
}

function bodyBytes(body: string | null | undefined, isBase64Encoded: boolean | undefined): Buffer {
  if (!body) return Buffer.alloc(0);
  return isBase64Encoded ? Buffer.from(body, "base64") : Buffer.from(body, "utf8");
}

function bodyText(body: string | null | undefined, isBase64Encoded: boolean | undefined): string | undefined {
  return body && !isBase64Encoded ? body : undefined;
}

/** Reads a v2 or v1 proxy event into one shape. */
export function toCollectorRequest(event: GatewayEvent): CollectorRequest {
  if (isHttpApiEvent(event)) {
    const ctx = event.requestContext;
    return {
      method: ctx.http.method.toUpperCase(),
      path: event.rawPath ?? ctx.http.path,
      headers: lowerCaseHeaders(event.headers),
      body: bodyBytes(event.body, event.isBase64Encoded),
      bodyText: bodyText(event.body, event.isBase64Encoded),
      requestId: ctx.requestId,
      sourceIp: ctx.http.sourceIp ?? null,
      userAgent: ctx.http.userAgent ?? null,
    };
  }
  const ctx = event.requestContext;
  return {
    method: event.httpMethod.toUpperCase(),
    path: event.path,
    headers: lowerCaseHeaders(event.headers),
    body: bodyBytes(event.body, event.isBase64Encoded),
    bodyText: bodyText(event.body, event.isBase64Encoded),
    requestId: ctx?.requestId ?? "",
    sourceIp: ctx?.identity?.sourceIp ?? null,
    userAgent: ctx?.identity?.userAgent ?? lowerCaseHeaders(event.headers)["user-agent"] ?? null,
  };
}

export function jsonResult(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): GatewayResult {
  return {
    statusCode,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}
