/**
 * The demo's logging step: one request through three services (storefront -> search -> images, each
 * a Lambda handler behind a local HTTP API, started here on free ports), their lines delivered to the
 * real log consumer in the subscription shape, then `observatory trace` of that request.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { startDemoServices } from "../../local/demo-services/start.js";
import { startLocalLogPipeline } from "../../local/log-pipeline.js";
import { traceLocal } from "../../trace/local-trace.js";
import { buildTimeline } from "../../trace/timeline.js";
import type { DemoStep } from "./demo.js";
import { renderTimeline } from "./trace.js";

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
      collector: { url: context.endpoint, apiKey: context.options.apiKey },
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
      // Deliver the buffered lines now (CloudWatch would within seconds) and wait for the archive.
      await pipeline.flush();
      const rows = buildTimeline(
        await traceLocal({
          s3: context.s3,
          bucket: context.bucket,
          correlationId,
          cacheDir: join(context.options.dataDir, "cache", "trace"),
        }),
      );
      context.print();
      context.print(renderTimeline(rows, context.options.format, correlationId));
      const serviceCount = new Set(rows.map((r) => r.service)).size;
      context.print();
      context.print(
        `${rows.length} entries (${rows.filter((r) => r.kind === "log").length} log lines, ${rows.filter((r) => r.kind === "event").length} events) from ${serviceCount} services. Again any time: observatory trace ${correlationId}`,
      );
    } finally {
      await services.close();
      await pipeline.close();
    }
  },
};
