import { Option } from "commander";
import type { DevExtension } from "../cli/commands/dev.js";
import { LOCAL_DEMO_SERVICE_PORTS } from "../contracts/local-stack.js";
import { startDemoServices } from "./demo-services/start.js";
import { DELIVERY_INTERVAL_MS } from "./log-delivery.js";
import { startLocalLogPipeline } from "./log-pipeline.js";
import type { LocalStackExtra } from "./stack.js";

/**
 * The logging part of `observatory dev`: the log consumer behind a local subscription delivery, and
 * the three demo services (storefront -> search -> images) whose lines it archives. `--no-logs`
 * leaves it out.
 */
export function logsStackExtra(
  options: { intervalMs?: number; ports?: { storefront?: number; search?: number; images?: number } } = {},
): LocalStackExtra {
  return {
    name: "logs",
    async start(core) {
      const pipeline = startLocalLogPipeline({
        s3: core.s3.client,
        bucket: core.bucket,
        intervalMs: options.intervalMs,
        onError: (error) =>
          core.log(`log consumer: delivery failed, will retry: ${(error as Error).message}`),
      });
      // The collector runs "as a Lambda" too: its per-request lines (with the batch's correlation ID)
      // reach the archive, so a trace shows the collector accepting the request's events.
      core.wrapCollector((handler) =>
        pipeline.lambda("observatory-collector", handler, "observatory-collector"),
      );
      const services = await startDemoServices({
        pipeline,
        collector: { url: core.collector.url, apiKey: core.apiKey },
        ports: options.ports ?? LOCAL_DEMO_SERVICE_PORTS,
      }).catch(async (error) => {
        await pipeline.close();
        throw error;
      });
      return {
        describe: [
          `consumer: lines of local functions -> s3://${core.bucket}/tables/logs/ every ${(options.intervalMs ?? DELIVERY_INTERVAL_MS) / 1000}s`,
          `demo A->B->C: curl -i '${services.storefront.url}/search?q=cat' -H 'x-correlation-id: my-first-trace'`,
          "then:        observatory trace my-first-trace",
        ],
        async close() {
          await services.close();
          await pipeline.close();
        },
      };
    },
  };
}

export const logsDevExtension: DevExtension = {
  options: [new Option("--no-logs", "leave out the log consumer and the logging demo services")],
  // `dev --port 0` (any free port) moves the demo services to free ports too.
  extra: (options) =>
    options.logs === false
      ? undefined
      : logsStackExtra(options.port === 0 ? { ports: { storefront: 0, search: 0, images: 0 } } : {}),
};
