/**
 * The demo's logging step: one request through three services (storefront -> search -> images, each
 * a Lambda handler behind a local HTTP API, started here on free ports), their lines delivered to the
 * real log consumer in the subscription shape, then `observatory trace` of that request.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { LOCAL_DATA_DIR } from "../../contracts/local-stack.js";
import { startDemoServices } from "../../local/demo-services/start.js";
import { DELIVERY_INTERVAL_MS } from "../../local/log-delivery.js";
import { startLocalLogPipeline } from "../../local/log-pipeline.js";
import { traceLocal } from "../../trace/local-trace.js";
import { type SkippedRaw, skippedRawNote } from "../../trace/raw-events.js";
import { buildTimeline, type TimelineRow } from "../../trace/timeline.js";
import type { DemoStep } from "./demo.js";
import { renderTimeline } from "./trace.js";

/** The collector's service name in the logs archive (local/stack.ts logs it as a Lambda). */
const COLLECTOR_SERVICE = "observatory-collector";
/**
 * How long to wait for the collector's lines: a running `observatory dev` delivers its collector's
 * lines every DELIVERY_INTERVAL_MS, and the services' Trackers post their events shortly after the
 * response; a few deliveries is plenty, and the timeline is printed as it is after that.
 */
const COLLECTOR_LINES_WAIT_MS = 5 * DELIVERY_INTERVAL_MS;
const RETRACE_INTERVAL_MS = 250;

export const traceDemoStep: DemoStep = {
  title: "One request across three services, traced by its correlation ID",
  async run(context) {
    const pipeline = startLocalLogPipeline({
      s3: context.s3,
      bucket: context.bucket,
      onError: (error) => context.print(`  log delivery failed (retried): ${(error as Error).message}`),
    });
    // When this demo started its own stack, its collector's lines join the archive too (a running
    // `observatory dev` already does this for its collector).
    context.stack?.wrapCollector((handler) =>
      pipeline.lambda("observatory-collector", handler, "observatory-collector"),
    );
    const services = await startDemoServices({
      pipeline,
      collector: { url: context.endpoint, apiKey: context.apiKey },
    });
    try {
      const correlationId = `demo-${randomBytes(6).toString("hex")}`;
      const url = `${services.storefront.url}/search?q=cat&user=demo-user-1`;
      const response = await fetch(url, { headers: { "x-correlation-id": correlationId } });
      await response.arrayBuffer();
      context.print(`GET ${url}  (x-correlation-id: ${correlationId})`);
      context.print(
        `  -> ${response.status}, response header x-correlation-id: ${response.headers.get("x-correlation-id")}`,
      );
      // Deliver the buffered lines now (CloudWatch would within seconds) and trace; the collector's
      // lines (it received the services' events) come with the next delivery of whichever pipeline
      // archives them: trace again until they are in, within COLLECTOR_LINES_WAIT_MS.
      const deadline = Date.now() + COLLECTOR_LINES_WAIT_MS;
      let rows: TimelineRow[];
      let skipped = undefined as SkippedRaw | undefined;
      for (;;) {
        await pipeline.flush();
        rows = buildTimeline(
          await traceLocal({
            s3: context.s3,
            bucket: context.bucket,
            correlationId,
            cacheDir: join(context.dataDir, "cache", "trace"),
            onSkipped: (s) => {
              skipped = s;
            },
          }),
        );
        if (rows.some((r) => r.service === COLLECTOR_SERVICE) || Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, RETRACE_INTERVAL_MS));
      }
      context.report.trace = { correlation_id: correlationId, rows };
      // Not this request's data, but worth knowing: compaction quarantines them.
      if (skipped) process.stderr.write(`${skippedRawNote(skipped)}\n`);
      context.print();
      if (context.options.format === "table") context.print(renderTimeline(rows, "table", correlationId));
      const serviceCount = new Set(rows.map((r) => r.service)).size;
      context.print();
      context.print(
        `${rows.length} entries (${rows.filter((r) => r.kind === "log").length} log lines, ${rows.filter((r) => r.kind === "event").length} events) from ${serviceCount} services. Again any time: observatory trace ${correlationId}${context.dataDir === LOCAL_DATA_DIR ? "" : ` --data-dir ${context.dataDir}`}`,
      );
    } finally {
      await services.close();
      await pipeline.close();
    }
  },
};
