// The local API Gateway's body reading (local/api-gateway.ts readBody): with a content-length (one
// buffer of that size) and without (chunked), and API Gateway's 413 past its payload limit.
import { request as httpRequest } from "node:http";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type HttpLambda,
  MAX_GATEWAY_PAYLOAD_BYTES,
  PREALLOCATED_BODY_BYTES,
  startHttpLambda,
} from "../local/api-gateway.js";

let api: HttpLambda;
const seen: APIGatewayProxyEventV2[] = [];

beforeAll(async () => {
  api = await startHttpLambda({
    port: 0,
    handler: async (event) => {
      seen.push(event);
      return { statusCode: 200, body: String(event.body?.length ?? 0) };
    },
  });
});
afterAll(() => api.close());

/** POSTs `chunks` one write each; with `contentLength` that header, else chunked transfer encoding. */
function post(chunks: Buffer[], contentLength?: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      `${api.url}/v1/batch`,
      {
        method: "POST",
        headers: {
          "content-type": "application/octet-stream",
          ...(contentLength === undefined ? {} : { "content-length": contentLength }),
        },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    request.on("error", reject);
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

describe("local API Gateway request bodies", () => {
  const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
  const parts = [body.subarray(0, 1), body.subarray(1, 65_537), body.subarray(65_537)];

  it("hands over a body sent in several writes with a content-length, byte for byte", async () => {
    seen.length = 0;
    expect(await post(parts, body.length)).toEqual({
      status: 200,
      text: String(body.toString("base64").length),
    });
    expect(Buffer.from(seen[0]!.body!, "base64").equals(body)).toBe(true);
    expect(seen[0]!.isBase64Encoded).toBe(true);
  });

  it("hands over a body over the preallocated size with a content-length, byte for byte", async () => {
    seen.length = 0;
    const big = Buffer.from(Array.from({ length: PREALLOCATED_BODY_BYTES + 70_001 }, (_, i) => i % 253));
    const pieces = [big.subarray(0, 70_000), big.subarray(70_000)];
    expect((await post(pieces, big.length)).status).toBe(200);
    expect(Buffer.from(seen[0]!.body!, "base64").equals(big)).toBe(true);
  });

  it("does not reserve a large declared content-length before the body arrives", async () => {
    const declared = MAX_GATEWAY_PAYLOAD_BYTES - 1;
    const before = process.memoryUsage().arrayBuffers;
    const request = httpRequest(`${api.url}/v1/batch`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "content-length": declared },
    });
    request.on("error", () => {});
    request.write(Buffer.alloc(1024));
    // Long enough for the gateway to have read the headers and the first chunk.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const grown = process.memoryUsage().arrayBuffers - before;
    request.destroy();
    expect(grown).toBeLessThan(declared / 4);
  });

  it("hands over a chunked body (no content-length) byte for byte", async () => {
    seen.length = 0;
    expect((await post(parts)).status).toBe(200);
    expect(Buffer.from(seen[0]!.body!, "base64").equals(body)).toBe(true);
  });

  it("answers 413 past the payload limit without calling the function", async () => {
    seen.length = 0;
    const tooLarge = MAX_GATEWAY_PAYLOAD_BYTES + 1;
    // Declared too large: refused from the header alone (only the start of the body is sent), and the
    // connection closed, so that the unread rest is never taken for the next request.
    expect(await post([Buffer.alloc(1024)], tooLarge)).toEqual({
      status: 413,
      text: '{"message":"Request Entity Too Large"}',
    });
    // Chunked past the limit: refused once the limit is crossed.
    const chunked = await post([Buffer.alloc(MAX_GATEWAY_PAYLOAD_BYTES), Buffer.alloc(1)]);
    expect(chunked).toEqual({ status: 413, text: '{"message":"Request Entity Too Large"}' });
    expect(seen).toHaveLength(0);
  });
});
