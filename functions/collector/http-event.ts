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
  /**
   * Raw body bytes (base64 already decoded), or an empty buffer. For a text body they are encoded on
   * first use only: an accepted batch never needs them (its text is parsed as delivered).
   */
  readonly body: Buffer;
  /** The body's size in bytes, known without encoding a text body. */
  bodyLength: number;
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

type BodyFields = Pick<CollectorRequest, "body" | "bodyLength" | "bodyText">;

/**
 * Adds the body as bytes and, when API Gateway delivered text, as that text. Encoding a 500-event
 * batch's text to UTF-8 costs 0.03-0.1 ms (bench/collector.bench.ts) and only refused bodies need the
 * bytes, so a text body's bytes are made on first use (a getter: spreading would encode them at once).
 */
function withBody<T extends object>(
  request: T,
  body: string | null | undefined,
  isBase64Encoded: boolean | undefined,
): T & BodyFields {
  if (!body) return Object.assign(request, { body: Buffer.alloc(0), bodyLength: 0 });
  if (isBase64Encoded) {
    const bytes = Buffer.from(body, "base64");
    return Object.assign(request, { body: bytes, bodyLength: bytes.length });
  }
  let bytes: Buffer | undefined;
  Object.defineProperty(request, "body", {
    enumerable: true,
    get: () => {
      bytes ??= Buffer.from(body, "utf8");
      return bytes;
    },
  });
  return Object.assign(request as T & Pick<BodyFields, "body">, {
    bodyLength: Buffer.byteLength(body, "utf8"),
    bodyText: body,
  });
}

/** Reads a v2 or v1 proxy event into one shape. */
export function toCollectorRequest(event: GatewayEvent): CollectorRequest {
  if (isHttpApiEvent(event)) {
    const ctx = event.requestContext;
    const request = {
      method: ctx.http.method.toUpperCase(),
      path: event.rawPath ?? ctx.http.path,
      headers: lowerCaseHeaders(event.headers),
      requestId: ctx.requestId,
      sourceIp: ctx.http.sourceIp ?? null,
      userAgent: ctx.http.userAgent ?? null,
    };
    return withBody(request, event.body, event.isBase64Encoded);
  }
  const ctx = event.requestContext;
  const request = {
    method: event.httpMethod.toUpperCase(),
    path: event.path,
    headers: lowerCaseHeaders(event.headers),
    requestId: ctx?.requestId ?? "",
    sourceIp: ctx?.identity?.sourceIp ?? null,
    userAgent: ctx?.identity?.userAgent ?? lowerCaseHeaders(event.headers)["user-agent"] ?? null,
  };
  return withBody(request, event.body, event.isBase64Encoded);
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
