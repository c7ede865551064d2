import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeStack } from "../cli/commands/dev.js";
import { LOCAL_DEMO_SERVICE_PORTS } from "../contracts/local-stack.js";
import { startHttpLambda } from "../local/api-gateway.js";
import { type LocalStackCore, startLocalStack } from "../local/stack.js";
import { readStackFile, type StackFile, stackFilePath } from "../local/stack-file.js";
import { readNdjsonObjects } from "./collector-helpers.js";
import { spawnObservatory } from "./support/cli-process.js";
import { collectorLineCapture } from "./support/collector-line-capture.js";
import { devArgs } from "./support/dev-process.js";

let dir: string;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "obs-stack-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("local API Gateway (startHttpLambda)", () => {
  it("hands the function a real-shaped HTTP API v2 event and writes its result back", async () => {
    const seen: APIGatewayProxyEventV2[] = [];
    const api = await startHttpLambda({
      port: 0,
      handler: async (event) => {
        seen.push(event);
        return {
          statusCode: 201,
          headers: { "x-echo": event.rawQueryString },
          body: Buffer.from("bin\u0000ary").toString("base64"),
          isBase64Encoded: true,
          cookies: ["a=1"],
        };
      },
    });
    try {
      const gz = gzipSync('{"batch":[]}');
      const response = await fetch(`${api.url}/v1/batch?x=1&x=2&y=3`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "Content-Encoding": "gzip",
          "X-Correlation-Id": "c-1",
          Cookie: "s=1; t=2",
        },
        body: gz,
      });
      expect(response.status).toBe(201);
      expect(response.headers.get("x-echo")).toBe("x=1&x=2&y=3");
      expect(response.headers.get("set-cookie")).toBe("a=1");
      expect(Buffer.from(await response.arrayBuffer()).toString()).toBe("bin\u0000ary");
      const [event] = seen;
      expect(event).toMatchObject({
        version: "2.0",
        routeKey: "$default",
        rawPath: "/v1/batch",
        rawQueryString: "x=1&x=2&y=3",
        cookies: ["s=1", "t=2"],
        queryStringParameters: { x: "1,2", y: "3" },
        isBase64Encoded: true,
        requestContext: {
          stage: "$default",
          http: { method: "POST", path: "/v1/batch", sourceIp: "127.0.0.1" },
        },
      });
      expect(event!.headers["x-correlation-id"]).toBe("c-1");
      expect(event!.headers["content-encoding"]).toBe("gzip");
      expect(Buffer.from(event!.body!, "base64").equals(gz)).toBe(true);
      expect(event!.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(Math.abs(event!.requestContext.timeEpoch - Date.now())).toBeLessThan(60_000);
    } finally {
      await api.close();
    }
  });

  it("passes JSON bodies as text, answers 500 when the function throws, and 200 JSON for a plain result", async () => {
    let mode = "plain";
    const bodies: (string | undefined)[] = [];
    const api = await startHttpLambda({
      port: 0,
      onError: () => {},
      handler: async (event) => {
        bodies.push(event.isBase64Encoded ? "base64!" : event.body);
        if (mode === "throw") throw new Error("boom");
        return { hello: "world" } as never;
      },
    });
    try {
      const plain = await fetch(`${api.url}/x`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"a":1}',
      });
      expect([plain.status, await plain.json()]).toEqual([200, { hello: "world" }]);
      expect(bodies).toEqual(['{"a":1}']);
      mode = "throw";
      const thrown = await fetch(`${api.url}/x`);
      expect([thrown.status, await thrown.json()]).toEqual([500, { message: "Internal Server Error" }]);
    } finally {
      await api.close();
    }
  });
});

describe("local API Gateway timeout", () => {
  it("answers 503 like API Gateway when the function outlives the integration timeout", async () => {
    let release: () => void = () => {};
    const api = await startHttpLambda({
      port: 0,
      timeoutMs: 200,
      handler: () =>
        new Promise((resolve) => {
          release = () => resolve({ statusCode: 200, body: "late" });
        }),
    });
    try {
      const response = await fetch(`${api.url}/slow`);
      expect([response.status, await response.json()]).toEqual([503, { message: "Service Unavailable" }]);
    } finally {
      release();
      await api.close();
    }
  });
});

describe("startLocalStack", () => {
  it("serves the collector over S3 and DynamoDB, starts extras after the core and closes in reverse", async () => {
    const order: string[] = [];
    const collectorLines: string[] = [];
    // An extra that runs the collector with its log lines captured, as the local log archive does.
    const capture = collectorLineCapture(collectorLines);
    const extra = (name: string) => ({
      name,
      async start(core: LocalStackCore) {
        order.push(`start ${name} ${core.collector.url.startsWith("http://127.0.0.1:")}`);
        return { describe: [`${name} ready`], close: async () => void order.push(`close ${name}`) };
      },
    });
    const stack = await startLocalStack({
      dataDir: join(dir, "a"),
      s3Port: 0,
      collectorPort: 0,
      dynamoPort: 0,
      apiKey: "k-test",
      quiet: true,
      extras: [extra("one"), extra("two"), capture],
    });
    try {
      expect((await fetch(`${stack.collector.url}/v1/health`)).status).toBe(200);
      const response = await fetch(`${stack.collector.url}/v1/batch`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-api-key": "k-test",
          "x-correlation-id": "stack-corr",
        },
        body: JSON.stringify({
          batch: [{ event: "search_made", user_id: "u1", properties: { query: "cats", n_results: 3 } }],
        }),
      });
      expect(await response.json()).toEqual({ accepted: 1, rejected: [] });
      const [object] = await readNdjsonObjects(stack.s3.client, stack.bucket, "raw/");
      expect(object!.lines[0]).toMatchObject({
        event: "search_made",
        service: "local",
        stage: "local",
        schema_version: 1,
      });
      expect(stack.extras.map((e) => e.handle.describe)).toEqual([["one ready"], ["two ready"], undefined]);
      expect(collectorLines.map((line) => JSON.parse(line))).toEqual([
        expect.objectContaining({
          message: "batch stored",
          accepted: 1,
          rejected: 0,
          service: "observatory-collector",
          correlation_id: "stack-corr",
        }),
      ]);
    } finally {
      await stack.close();
      await stack.close();
    }
    expect(order).toEqual(["start one true", "start two true", "close two", "close one"]);
  });

  it("says which port is taken, and leaves nothing running", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const taken = (blocker.address() as { port: number }).port;
    const s3Port = await freePort();
    const dynamoPort = await freePort();
    try {
      await expect(
        startLocalStack({ dataDir: join(dir, "b"), s3Port, collectorPort: taken, dynamoPort, quiet: true }),
      ).rejects.toThrow(
        `port ${taken} is already in use (collector); stop what holds it or choose another with --port`,
      );
      // A taken S3 or DynamoDB port is reported the same way (s3rver alone would end the process).
      await expect(
        startLocalStack({
          dataDir: join(dir, "b"),
          s3Port: taken,
          collectorPort: 0,
          dynamoPort: 0,
          quiet: true,
        }),
      ).rejects.toThrow(
        `port ${taken} is already in use (S3); stop what holds it or choose another with --s3-port`,
      );
      await expect(
        startLocalStack({
          dataDir: join(dir, "b"),
          s3Port: 0,
          collectorPort: 0,
          dynamoPort: taken,
          quiet: true,
        }),
      ).rejects.toThrow(
        `port ${taken} is already in use (DynamoDB); stop what holds it or choose another with --dynamodb-port`,
      );
      // The S3 and DynamoDB servers it had started are closed again: their ports are free for the next start.
      const stack = await startLocalStack({
        dataDir: join(dir, "b"),
        s3Port,
        collectorPort: 0,
        dynamoPort,
        quiet: true,
      });
      await stack.close();
    } finally {
      blocker.close();
    }
  });
});

describe("observatory dev", () => {
  // With --port 0 the logging extra's demo services take free ports too, so this never collides with a running dev.
  it("prints the endpoints, serves health, and stops cleanly on SIGINT", async () => {
    const dev = spawnObservatory(devArgs(join(dir, "dev")));
    const { child, exited } = dev;
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`dev did not start:\n${dev.output()}`)), 30_000);
        child.stdout.on("data", () => {
          const match = /collector\s+(http:\/\/127\.0\.0\.1:\d+)\/v1\/batch/.exec(dev.output());
          if (match) {
            clearTimeout(timer);
            resolve(match[1]!);
          }
        });
      });
      expect(dev.output()).toContain("API key    local-dev-key");
      expect(dev.output()).toContain("curl -s -X POST");
      expect(dev.output()).toContain(`find this stack with --data-dir ${join(dir, "dev")}`);
      const demoService = /curl -i 'http:\/\/127\.0\.0\.1:(\d+)\/search/.exec(dev.output());
      expect(Number(demoService?.[1])).not.toBe(LOCAL_DEMO_SERVICE_PORTS.storefront);
      expect((await fetch(`${url}/v1/health`)).status).toBe(200);
      // The discovery file other commands find the stack through, removed on a clean stop.
      const file = JSON.parse(await readFile(stackFilePath(join(dir, "dev")), "utf8")) as StackFile;
      expect(file.pid).toBe(child.pid);
      expect(file.collector).toBe(url);
      expect(readStackFile(join(dir, "dev"))?.s3).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      expect(dev.output()).toContain("stopped.");
      expect(existsSync(stackFilePath(join(dir, "dev")))).toBe(false);
      await expect(fetch(`${url}/v1/health`)).rejects.toThrow();
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("--quiet prints only the endpoints", async () => {
    const stack = await startLocalStack({
      dataDir: join(dir, "quiet"),
      s3Port: 0,
      collectorPort: 0,
      dynamoPort: 0,
      quiet: true,
    });
    try {
      const quiet = describeStack(stack, { quiet: true }).split("\n");
      expect(quiet.map((line) => line.trim().split(/\s+/)[0])).toEqual([
        "collector",
        "S3",
        "DynamoDB",
        "API",
        "data",
      ]);
      expect(describeStack(stack).split("\n").length).toBeGreaterThan(quiet.length + 3);
    } finally {
      await stack.close();
    }
  });
});
