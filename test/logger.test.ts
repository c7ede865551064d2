import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { runWithCorrelation } from "../runtime/correlation-context.js";
import { captureLogLines } from "../runtime/log-output.js";
import { isDebugSampled } from "../runtime/log-sampling.js";
import { Logger } from "../runtime/logger.js";

function sink() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n")) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { stream, lines };
}

const ENV_KEYS = [
  "OBSERVATORY_SERVICE",
  "POWERTOOLS_SERVICE_NAME",
  "OBSERVATORY_STAGE",
  "OBSERVATORY_LOG_LEVEL",
  "POWERTOOLS_LOG_LEVEL",
  "LOG_LEVEL",
  "OBSERVATORY_DEBUG_SAMPLE_RATE",
  "OBSERVATORY_REDACT_KEYS",
  "_X_AMZN_TRACE_ID",
];
const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
afterEach(() => {
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe("Logger", () => {
  it("writes one JSON line with Powertools' keys, service and stage from the environment, request fields from the context", () => {
    process.env.OBSERVATORY_SERVICE = "checkout";
    process.env.OBSERVATORY_STAGE = "prod";
    const { stream, lines } = sink();
    const logger = new Logger({ destination: stream });
    runWithCorrelation(
      {
        correlationId: "c-1",
        functionName: "checkout-fn",
        functionRequestId: "r-1",
        coldStart: true,
        xrayTraceId: "1-5759e988-bd862e3fe1be46a994272793",
      },
      () => logger.info("order placed", { order_id: "o-1" }),
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "INFO",
      message: "order placed",
      service: "checkout",
      stage: "prod",
      correlation_id: "c-1",
      function_name: "checkout-fn",
      function_request_id: "r-1",
      cold_start: true,
      xray_trace_id: "1-5759e988-bd862e3fe1be46a994272793",
      order_id: "o-1",
    });
    expect(new Date(lines[0]!.timestamp as string).toISOString()).toBe(lines[0]!.timestamp);
  });

  it("takes the level from the environment and refuses an unknown one", () => {
    process.env.OBSERVATORY_LOG_LEVEL = "warn";
    const { stream, lines } = sink();
    const logger = new Logger({ service: "s", destination: stream });
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e", new Error("boom"));
    expect(lines.map((l) => l.level)).toEqual(["WARN", "ERROR"]);
    expect(lines[1]!.error).toMatchObject({ name: "Error", message: "boom" });
    process.env.OBSERVATORY_LOG_LEVEL = "LOUD";
    expect(() => new Logger({ service: "s" })).toThrow(
      /log level "LOUD" is not one of DEBUG, INFO, WARN, ERROR, CRITICAL/,
    );
  });

  it("child loggers add their keys to every line and keep the parent's level and output", () => {
    const { stream, lines } = sink();
    const logger = new Logger({
      service: "s",
      level: "INFO",
      destination: stream,
      attributes: { app: "shop" },
    });
    const child = logger.child({ component: "cart" }).child({ step: 2 });
    child.debug("hidden");
    child.info("shown", { extra: true });
    child.error("failed", new Error("x"));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ app: "shop", component: "cart", step: 2, extra: true });
    expect(lines[1]).toMatchObject({ app: "shop", component: "cart", step: 2, error: { message: "x" } });
  });

  it("redacts the default keys at any depth, case-insensitively, without touching the caller's object", () => {
    process.env.OBSERVATORY_REDACT_KEYS = "ssn";
    const { stream, lines } = sink();
    const logger = new Logger({ service: "s", destination: stream });
    const user = {
      name: "Ada",
      Email: "ada@example.com",
      ssn: "123",
      nested: [{ headers: { Authorization: "Bearer x", accept: "json" } }],
      token: { value: 1 },
    };
    logger.info("signup", { user, password: "p" });
    expect(lines[0]).toMatchObject({
      password: "[REDACTED]",
      user: {
        name: "Ada",
        Email: "[REDACTED]",
        ssn: "[REDACTED]",
        token: "[REDACTED]",
        nested: [{ headers: { Authorization: "[REDACTED]", accept: "json" } }],
      },
    });
    expect(user.Email).toBe("ada@example.com");
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    logger.info("cycle", { cyclic });
    expect(lines[1]!.cyclic).toEqual({ a: 1, self: "[Circular]" });
  });

  it("samples debug per correlation ID: the same requests in every service, about the rate's share", () => {
    const a = sink();
    const b = sink();
    const storefront = new Logger({
      service: "storefront",
      level: "INFO",
      debugSampleRate: 0.25,
      destination: a.stream,
    });
    const search = new Logger({
      service: "search",
      level: "INFO",
      debugSampleRate: 0.25,
      destination: b.stream,
    });
    const ids = Array.from(
      { length: 400 },
      (_, i) => `4f1c${i.toString(16).padStart(4, "0")}-6a2b-4c3d-8e9f-0a1b2c3d4e5f`,
    );
    for (const id of ids) {
      runWithCorrelation({ correlationId: id }, () => {
        storefront.debug("detail");
        search.debug("detail");
      });
    }
    const sampledA = a.lines.map((l) => l.correlation_id);
    expect(sampledA).toEqual(b.lines.map((l) => l.correlation_id));
    expect(sampledA.length).toBeGreaterThan(60);
    expect(sampledA.length).toBeLessThan(140);
    expect(sampledA).toEqual(ids.filter((id) => isDebugSampled(id, 0.25)));
    expect(isDebugSampled(ids[0], 0)).toBe(false);
    expect(isDebugSampled(ids[0], 1)).toBe(true);
    expect(isDebugSampled(undefined, 1)).toBe(false);
  });

  it("keeps concurrent requests' IDs apart and writes into an active local capture", async () => {
    const captured: string[] = [];
    const logger = new Logger({ service: "s" });
    const request = (id: string, wait: number) =>
      runWithCorrelation({ correlationId: id }, async () => {
        logger.info("start");
        await sleep(wait);
        logger.info("end");
      });
    await captureLogLines(
      (line) => captured.push(line),
      () => Promise.all([request("first", 20), request("second", 5)]),
    );
    const parsed = captured.map((l) => JSON.parse(l) as { message: string; correlation_id: string });
    expect(parsed.map((p) => `${p.correlation_id}:${p.message}`)).toEqual([
      "first:start",
      "second:start",
      "second:end",
      "first:end",
    ]);
  });
});
