import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from "aws-lambda";

/**
 * A local stand-in for API Gateway HTTP API (payload format 2.0) in front of one Lambda handler:
 * each HTTP request becomes a real-shaped APIGatewayProxyEventV2 and the handler's result becomes the
 * response, with API Gateway's own rules (base64 bodies, 500 on a thrown error, 413 past its limit).
 */

/** API Gateway HTTP API's payload limit; larger requests never reach the function. */
export const MAX_GATEWAY_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** The timeout HTTP APIs allow an integration (30 s); reported by getRemainingTimeInMillis. */
export const INTEGRATION_TIMEOUT_MS = 30_000;

export type HttpLambdaHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyResultV2>;

export interface HttpLambda {
  url: string;
  port: number;
  close(): Promise<void>;
}

// Content types API Gateway passes as text; anything else (or any content-encoding) arrives base64.
const TEXT_TYPES = [/^text\//, /^application\/(json|xml|javascript|x-www-form-urlencoded)$/, /\+(json|xml)$/];

function isTextBody(headers: Record<string, string>): boolean {
  if (headers["content-encoding"] && headers["content-encoding"] !== "identity") return false;
  const type = (headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  return type === "" || TEXT_TYPES.some((re) => re.test(type));
}

/**
 * Bodies up to this size are read into a buffer of their declared content-length. Bigger ones are
 * collected as they arrive: a client that declares 10 MB and sends nothing must not make the
 * gateway hold 10 MB per connection.
 */
export const PREALLOCATED_BODY_BYTES = 1024 * 1024;

/**
 * The request body, or null past MAX_GATEWAY_PAYLOAD_BYTES. With a content-length (every Tracker and
 * SDK request) up to PREALLOCATED_BODY_BYTES, the chunks are copied once into a buffer of that size
 * instead of being collected and concatenated: one copy less per request on the collector's hot path.
 */
async function readBody(request: IncomingMessage): Promise<Buffer | null> {
  const declared = Number(request.headers["content-length"]);
  const hasLength = Number.isInteger(declared) && declared >= 0;
  if (hasLength && declared > MAX_GATEWAY_PAYLOAD_BYTES) return null;
  if (hasLength && declared <= PREALLOCATED_BODY_BYTES) {
    const body = Buffer.allocUnsafe(declared);
    let size = 0;
    for await (const chunk of request) {
      const bytes = chunk as Buffer;
      // Node's HTTP parser never delivers more than content-length; guard anyway rather than overrun.
      if (size + bytes.length > declared) return null;
      bytes.copy(body, size);
      size += bytes.length;
    }
    return size === declared ? body : body.subarray(0, size);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_GATEWAY_PAYLOAD_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/** Builds the event API Gateway would send for this request. */
export function toHttpApiEvent(
  request: IncomingMessage,
  body: Buffer,
  now = new Date(),
): APIGatewayProxyEventV2 {
  const url = new URL(request.url ?? "/", "http://localhost");
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  // rawHeaders keeps repeats; API Gateway joins them with commas and moves cookies to `cookies`.
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!.toLowerCase();
    const value = request.rawHeaders[i + 1]!;
    if (name === "cookie")
      cookies.push(
        ...value
          .split(";")
          .map((c) => c.trim())
          .filter(Boolean),
      );
    else headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) query[key] = key in query ? `${query[key]},${value}` : value;
  const text = isTextBody(headers);
  const method = (request.method ?? "GET").toUpperCase();
  const sourceIp = (request.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
  const userAgent = headers["user-agent"] ?? "";
  const domainName = headers.host ?? "localhost";
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(url.search ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName,
      domainPrefix: domainName.split(".")[0]!,
      http: { method, path: url.pathname, protocol: `HTTP/${request.httpVersion}`, sourceIp, userAgent },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: text ? body.toString("utf8") : body.toString("base64") } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

export function lambdaContext(
  functionName: string,
  requestId: string,
  startedAt: number,
  timeoutMs: number,
): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: "1024",
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - startedAt)),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

type Send = (
  response: ServerResponse,
  status: number,
  headers: Record<string, string | number | boolean>,
  body: Buffer,
) => void;

function sendResponse(
  response: ServerResponse,
  status: number,
  headers: Record<string, string | number | boolean>,
  body: Buffer,
): void {
  response.writeHead(status, { ...headers, "content-length": body.length });
  response.end(body);
}

/** Writes a handler result the way API Gateway does (payload 2.0 rules for non-structured results). */
function writeResult(response: ServerResponse, result: APIGatewayProxyResultV2, send: Send): void {
  if (
    typeof result === "string" ||
    typeof result !== "object" ||
    result === null ||
    !("statusCode" in result)
  ) {
    // Not a structured response: API Gateway answers 200 with the result as JSON.
    send(
      response,
      200,
      { "content-type": "application/json" },
      Buffer.from(typeof result === "string" ? result : JSON.stringify(result)),
    );
    return;
  }
  const headers: Record<string, string | number | boolean> = { ...(result.headers ?? {}) };
  if (result.cookies?.length) response.setHeader("set-cookie", result.cookies);
  const body = result.body ?? "";
  send(
    response,
    result.statusCode ?? 200,
    headers,
    result.isBase64Encoded ? Buffer.from(body, "base64") : Buffer.from(body, "utf8"),
  );
}

export interface HttpLambdaServerOptions {
  handler: HttpLambdaHandler;
  functionName?: string;
  /** Integration timeout: past it the caller gets API Gateway's 503 (the handler keeps running). Default 30 s. */
  timeoutMs?: number;
  onError?: (error: unknown) => void;
  /** Added to every response (a collector worker names itself with its pid). */
  responseHeaders?: Record<string, string>;
}

/**
 * The HTTP server in front of `handler`, not yet listening: startHttpLambda listens on a port, a
 * collector worker (local/collector-worker.ts) is handed connections accepted by its primary.
 */
export function createHttpLambdaServer(options: HttpLambdaServerOptions): Server {
  const functionName = options.functionName ?? "local-function";
  const timeoutMs = options.timeoutMs ?? INTEGRATION_TIMEOUT_MS;
  const extraHeaders = options.responseHeaders ?? {};
  const send = (
    response: ServerResponse,
    status: number,
    headers: Record<string, string | number | boolean>,
    body: Buffer,
  ) => sendResponse(response, status, { ...headers, ...extraHeaders }, body);
  return createServer(async (request, response) => {
    try {
      const body = await readBody(request);
      if (body === null) {
        // The rest of the refused body is never read: the connection cannot carry another request.
        send(
          response,
          413,
          { "content-type": "application/json", connection: "close" },
          Buffer.from('{"message":"Request Entity Too Large"}'),
        );
        return;
      }
      const event = toHttpApiEvent(request, body);
      const invocation = options.handler(
        event,
        lambdaContext(functionName, event.requestContext.requestId, Date.now(), timeoutMs),
      );
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), timeoutMs);
      });
      const result = await Promise.race([invocation, timedOut]).finally(() => clearTimeout(timer));
      if (result === "timeout") {
        invocation.catch((error: unknown) => options.onError?.(error));
        send(
          response,
          503,
          { "content-type": "application/json" },
          Buffer.from('{"message":"Service Unavailable"}'),
        );
        return;
      }
      writeResult(response, result, send);
    } catch (error) {
      options.onError?.(error);
      if (!response.headersSent)
        send(
          response,
          500,
          { "content-type": "application/json" },
          Buffer.from('{"message":"Internal Server Error"}'),
        );
      else response.destroy();
    }
  });
}

/** Serves `handler` over HTTP on 127.0.0.1 (or `host`). Port 0 picks a free port. */
export async function startHttpLambda(
  options: HttpLambdaServerOptions & { port: number; host?: string },
): Promise<HttpLambda> {
  const host = options.host ?? "127.0.0.1";
  const server = createHttpLambdaServer(options);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
