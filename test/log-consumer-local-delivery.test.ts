import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { CloudWatchLogsDecodedData, CloudWatchLogsEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { asLocalLambda, LocalLogDelivery } from "../local/log-delivery.js";
import { logsDevExtension, logsStackExtra } from "../local/log-dev-extension.js";
import { startLocalStack } from "../local/stack.js";
import { withCorrelation } from "../runtime/correlation-handler.js";
import { createLogger } from "../runtime/logger.js";
import { traceLocal } from "../trace/local-trace.js";

const decode = (event: CloudWatchLogsEvent) =>
  JSON.parse(
    gunzipSync(Buffer.from(event.awslogs.data, "base64")).toString("utf8"),
  ) as CloudWatchLogsDecodedData;

describe("local subscription delivery", () => {
  it("delivers an invocation's START, logger lines, END and REPORT in the subscription shape, named after the service", async () => {
    const delivered: CloudWatchLogsDecodedData[] = [];
    const delivery = new LocalLogDelivery({
      intervalMs: 60_000,
      deliver: async (e) => void delivered.push(decode(e)),
    });
    const logger = createLogger({ service: "checkout" });
    const fn = asLocalLambda(
      delivery,
      { functionName: "checkout-fn", service: "checkout" },
      withCorrelation(async (event: { correlation_id: string }) => {
        logger.info("order placed");
        logger.warn("stock low");
        return event.correlation_id;
      }),
    );
    expect(await fn({ correlation_id: "local-1" })).toBe("local-1");
    await delivery.close();
    expect(delivered).toHaveLength(1);
    const d = delivered[0]!;
    expect(d).toMatchObject({
      messageType: "DATA_MESSAGE",
      logGroup: "/aws/lambda/checkout-fn",
      subscriptionFilters: ["observatory-logs.service=checkout"],
    });
    expect(d.logStream).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    const messages = d.logEvents.map((e) => e.message);
    expect(messages[0]).toMatch(/^START RequestId: ([0-9a-f-]{36}) Version: \$LATEST$/);
    const requestId = /RequestId: (\S+)/.exec(messages[0]!)![1];
    expect(messages.slice(1, 3).map((m) => JSON.parse(m))).toMatchObject([
      {
        message: "order placed",
        correlation_id: "local-1",
        function_name: "checkout-fn",
        function_request_id: requestId,
      },
      { message: "stock low", level: "WARN" },
    ]);
    expect(messages[3]).toBe(`END RequestId: ${requestId}`);
    expect(messages[4]).toMatch(
      new RegExp(
        `^REPORT RequestId: ${requestId}\\tDuration: [0-9.]+ ms\\tBilled Duration: \\d+ ms\\tMemory Size: 128 MB\\tMax Memory Used: \\d+ MB\\t$`,
      ),
    );
    const ids = d.logEvents.map((e) => e.id);
    expect(ids.every((id) => /^\d{56}$/.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
  });

  it("keeps lines whose delivery failed and delivers the same batch again on the next flush", async () => {
    const attempts: string[][] = [];
    let fail = true;
    const delivery = new LocalLogDelivery({
      intervalMs: 60_000,
      deliver: async (e) => {
        attempts.push(decode(e).logEvents.map((l) => l.id));
        if (fail) throw new Error("s3 down");
      },
      onError: () => undefined,
    });
    delivery.write("/aws/lambda/a", "s", "one");
    delivery.write("/aws/lambda/a", "s", "two");
    await delivery.flush();
    fail = false;
    await delivery.flush();
    await delivery.close();
    expect(attempts).toHaveLength(2);
    expect(attempts[1]).toEqual(attempts[0]);
  });

  it("is part of `observatory dev` unless --no-logs: the consumer and the demo services start and stop with the stack", async () => {
    expect(logsDevExtension.extra({ logs: false })).toBeUndefined();
    expect(logsDevExtension.extra({ logs: true })?.name).toBe("logs");
    const dir = await mkdtemp(join(tmpdir(), "obs-logs-extra-"));
    const stack = await startLocalStack({
      dataDir: dir,
      s3Port: 0,
      collectorPort: 0,
      dynamoPort: 0,
      quiet: true,
      extras: [logsStackExtra({ intervalMs: 100, ports: { storefront: 0, search: 0, images: 0 } })],
    });
    try {
      const described = stack.extras.find((e) => e.name === "logs")!.handle.describe!.join("\n");
      const url = /curl -i '([^']+)'/.exec(described)![1]!;
      const response = await fetch(url, { headers: { "x-correlation-id": "dev-extra-1" } });
      expect(response.status).toBe(200);
      // The stack's own delivery timer (100 ms here, 1 s in dev) archives the lines without an explicit flush.
      let services = new Set<string>();
      for (let i = 0; i < 50 && services.size < 4; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const entries = await traceLocal({
          s3: stack.s3.client,
          bucket: stack.bucket,
          correlationId: "dev-extra-1",
          cacheDir: join(dir, "trace"),
        });
        services = new Set(entries.map((e) => e.service ?? ""));
      }
      // The collector's lines too: it received the Trackers' batches with the request's x-correlation-id.
      expect(services).toEqual(new Set(["storefront", "search", "images", "observatory-collector"]));
    } finally {
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
