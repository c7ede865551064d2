// Logging: (1) the cost of one log line with our Logger against pino and the Powertools Logger - same
// fields on every line (message, service, correlation_id, function_name, function_request_id,
// cold_start and three attributes), all written to a null stream, measured in the same run;
// (2) the log consumer's throughput on a 1 MB subscription delivery (1 MiB of log messages, the
// PutLogEvents batch limit), against a baseline that only decodes the payload and JSON.parses every
// line, in the same run.
//   npm run bench -- logging
import { Console } from "node:console";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { gunzipSync } from "node:zlib";
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import type { CloudWatchLogsDecodedData } from "aws-lambda";
import pino from "pino";
import { consumeSubscription } from "../functions/log-consumer/consume.js";
import { encodeSubscriptionPayload, logEventId } from "../local/log-delivery.js";
import { startLocalS3 } from "../local/s3-server.js";
import { runWithCorrelation } from "../runtime/correlation-context.js";
import { nullStream } from "../runtime/log-output.js";
import { Logger } from "../runtime/logger.js";

/** Lines per timed round, and rounds per logger (interleaved, median reported). */
const LINES_PER_ROUND = 50_000;
const ROUNDS = 7;
/** Consumer runs per variant (median reported). */
const CONSUMER_RUNS = 5;
/** 1 MiB of messages: the most one PutLogEvents call (hence one delivery's source batch) carries. */
const PAYLOAD_MESSAGE_BYTES = 1024 * 1024;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const request = {
  correlation_id: "5e1f7a9c-3b2d-4c8e-9f01-23456789abcd",
  function_name: "checkout-fn",
  function_request_id: "6f3b2c1a-1111-4222-8333-444455556666",
  cold_start: false,
};
const attributes = { order_id: "o-12345", amount_cents: 4999, items: 3 };

// ---- (1) one log line
const ours = new Logger({ service: "checkout", level: "INFO", destination: nullStream() });
const oursNoRedaction = new Logger({
  service: "checkout",
  level: "INFO",
  destination: nullStream(),
  redactKeys: [],
});
const pinoLogger = pino(
  { base: { service: "checkout" }, timestamp: pino.stdTimeFunctions.isoTime },
  nullStream(),
).child(request);
const powertools = new PowertoolsLogger({ serviceName: "checkout", logLevel: "INFO" });
(powertools as unknown as { console: Console }).console = new Console({
  stdout: nullStream(),
  stderr: nullStream(),
});
powertools.appendKeys(request);

const context = {
  correlationId: request.correlation_id,
  functionName: request.function_name,
  functionRequestId: request.function_request_id,
  coldStart: false,
};
const variants: [string, () => void][] = [
  [
    "pino (baseline)",
    () => {
      for (let i = 0; i < LINES_PER_ROUND; i++) pinoLogger.info(attributes, "order placed");
    },
  ],
  [
    "Powertools Logger",
    () => {
      for (let i = 0; i < LINES_PER_ROUND; i++) powertools.info("order placed", attributes);
    },
  ],
  [
    "Observatory Logger",
    () =>
      runWithCorrelation(context, () => {
        for (let i = 0; i < LINES_PER_ROUND; i++) ours.info("order placed", attributes);
      }),
  ],
  [
    "Observatory Logger, no redaction",
    () =>
      runWithCorrelation(context, () => {
        for (let i = 0; i < LINES_PER_ROUND; i++) oursNoRedaction.info("order placed", attributes);
      }),
  ],
  [
    "Observatory Logger, debug line filtered out",
    () =>
      runWithCorrelation(context, () => {
        for (let i = 0; i < LINES_PER_ROUND; i++) ours.debug("order placed", attributes);
      }),
  ],
];
for (const [, run] of variants) run(); // warm-up (JIT), not counted
const times = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of variants) {
    const t = performance.now();
    run();
    times.get(name)!.push(performance.now() - t);
  }
}
const nsPerLine = (name: string) => (median(times.get(name)!) * 1e6) / LINES_PER_ROUND;
const baseline = nsPerLine("pino (baseline)");
console.log(
  `One log line (${LINES_PER_ROUND} lines x ${ROUNDS} rounds, median; null stream; node ${process.version})`,
);
console.log("logger                                        | ns/line | lines/s    | vs pino");
for (const [name] of variants) {
  const ns = nsPerLine(name);
  console.log(
    `${name.padEnd(45)} | ${ns.toFixed(0).padStart(7)} | ${Math.round(1e9 / ns)
      .toLocaleString("en-US")
      .padStart(10)} | ${(ns / baseline).toFixed(2)}x`,
  );
}

// ---- (2) consumer throughput on a 1 MiB delivery
function payload(): CloudWatchLogsDecodedData {
  const events: CloudWatchLogsDecodedData["logEvents"] = [];
  let bytes = 0;
  let t = Date.UTC(2026, 10, 22, 12);
  const services = ["storefront", "search", "images"];
  for (let i = 0; bytes < PAYLOAD_MESSAGE_BYTES; i++) {
    const requestId = `6f3b2c1a-1111-4222-8333-${String(Math.floor(i / 10)).padStart(12, "0")}`;
    let message: string;
    if (i % 10 === 0) message = `START RequestId: ${requestId} Version: $LATEST`;
    else if (i % 10 === 9)
      message = `REPORT RequestId: ${requestId}\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\tMax Memory Used: 88 MB\t`;
    else if (i % 10 === 5)
      message = JSON.stringify({
        level: 30,
        time: t,
        pid: 8,
        hostname: "ip-10-0-0-1",
        msg: "cache miss",
        key: `k-${i}`,
        correlationId: `corr-${Math.floor(i / 10)}`,
      });
    else
      message = JSON.stringify({
        level: "INFO",
        message: "order placed",
        timestamp: new Date(t).toISOString(),
        service: services[i % 3],
        stage: "prod",
        correlation_id: `corr-${Math.floor(i / 10)}`,
        function_name: "checkout-fn",
        function_request_id: requestId,
        cold_start: false,
        order_id: `o-${i}`,
        amount_cents: 4999,
        items: 3,
      });
    events.push({ id: logEventId(t), timestamp: t, message });
    bytes += Buffer.byteLength(message);
    t += 1;
  }
  return {
    messageType: "DATA_MESSAGE",
    owner: "123456789012",
    logGroup: "/aws/lambda/checkout-fn",
    logStream: "2026/11/22/[$LATEST]abc",
    subscriptionFilters: ["bench"],
    logEvents: events,
  };
}
const data = payload();
const event = encodeSubscriptionPayload(data);
const lines = data.logEvents.length;
const dir = mkdtempSync(join(tmpdir(), "logging-bench-"));
const s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0, bucket: "bench" });
try {
  const baselineRun = () => {
    const decoded = JSON.parse(
      gunzipSync(Buffer.from(event.awslogs.data, "base64")).toString("utf8"),
    ) as CloudWatchLogsDecodedData;
    let n = 0;
    for (const e of decoded.logEvents) {
      try {
        JSON.parse(e.message);
        n++;
      } catch {
        // platform lines are not JSON
      }
    }
    return n;
  };
  const consumerRun = () => consumeSubscription(event, { s3: s3.client, bucket: s3.bucket });
  baselineRun();
  await consumerRun(); // warm-up: DuckDB instance, S3 connection
  const base: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < CONSUMER_RUNS; i++) {
    let t = performance.now();
    baselineRun();
    base.push(performance.now() - t);
    t = performance.now();
    const result = await consumerRun();
    full.push(performance.now() - t);
    if (result.rows !== lines) throw new Error(`consumer archived ${result.rows} of ${lines} lines`);
  }
  const b = median(base);
  const f = median(full);
  console.log(
    `\nLog consumer on one delivery: ${lines} lines, ${(PAYLOAD_MESSAGE_BYTES / 1024 / 1024).toFixed(0)} MiB of messages, ${(event.awslogs.data.length / 1024).toFixed(0)} KiB base64 gzip (median of ${CONSUMER_RUNS})`,
  );
  console.log("variant                                                     | ms     | lines/s");
  console.log(
    `${"decode + JSON.parse every line (baseline)".padEnd(59)} | ${b.toFixed(1).padStart(6)} | ${Math.round((lines / b) * 1000).toLocaleString("en-US")}`,
  );
  console.log(
    `${"consumer: parse + Parquet (DuckDB, ZSTD) + PutObject (s3rver)".padEnd(59)} | ${f.toFixed(1).padStart(6)} | ${Math.round((lines / f) * 1000).toLocaleString("en-US")}  (${(f / b).toFixed(1)}x baseline)`,
  );
} finally {
  await s3.close();
  rmSync(dir, { recursive: true, force: true });
}
