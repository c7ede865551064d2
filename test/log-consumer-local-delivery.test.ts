import { gunzipSync } from "node:zlib";
import type { CloudWatchLogsDecodedData, CloudWatchLogsEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { asLocalLambda, LocalLogDelivery } from "../local/log-delivery.js";
import { withCorrelation } from "../runtime/correlation-handler.js";
import { createLogger } from "../runtime/logger.js";

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
});
