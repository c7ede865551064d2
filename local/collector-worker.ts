/**
 * One collector worker process of `observatory dev --workers N` (started by local/collector-workers.ts,
 * never imported): the collector behind the local API Gateway, serving the connections its primary
 * accepts on the collector port and hands over. S3 stays in the primary (s3rver); this process
 * reaches it over HTTP like the Lambda reaches S3.
 */
import type { Socket } from "node:net";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { captureLogLines } from "../runtime/log-output.js";
import { createHttpLambdaServer, type HttpLambdaHandler } from "./api-gateway.js";
import {
  type CollectorWorkerConfig,
  type InvocationRecord,
  type ToPrimary,
  type ToWorker,
  WORKER_CONFIG_ENV,
  WORKER_PID_HEADER,
} from "./collector-worker-protocol.js";
import { createLocalCollectorHandler, LOCAL_COLLECTOR_FUNCTION } from "./local-collector.js";
import { localS3Client } from "./s3-server.js";

const send = (message: ToPrimary) => process.send?.(message);

function main(): void {
  const raw = process.env[WORKER_CONFIG_ENV];
  if (!raw || !process.send) throw new Error("collector-worker.ts is started by local/collector-workers.ts");
  const config = JSON.parse(raw) as CollectorWorkerConfig;
  // A worker prints only errors (a collector error, a crashed request): stderr, even with --quiet.
  const log = (message: string) => console.error(message);
  const s3 = localS3Client(config.s3Endpoint);
  const collector = createLocalCollectorHandler({
    s3,
    bucket: config.bucket,
    apiKey: config.apiKey,
    schemas: config.schemas,
    log,
  });
  // While the primary has wrappers on the collector (the local log archive), each invocation's log
  // lines and result go to it, where the wrappers see them; otherwise nothing crosses the IPC channel.
  let capture = false;
  const handler: HttpLambdaHandler = async (event, context) => {
    if (!capture) return collector(event, context);
    const lines: string[] = [];
    const record: InvocationRecord = { event: withoutBody(event), requestId: context.awsRequestId, lines };
    try {
      record.result = await captureLogLines(
        (line) => lines.push(line),
        () => collector(event, context),
      );
      return record.result;
    } catch (error) {
      record.error = (error as Error | null | undefined)?.message ?? String(error);
      throw error;
    } finally {
      send({ type: "invocation", record });
    }
  };
  const server = createHttpLambdaServer({
    handler,
    functionName: LOCAL_COLLECTOR_FUNCTION,
    onError: (error) => log(`collector crashed: ${(error as Error).stack ?? String(error)}`),
    responseHeaders: { [WORKER_PID_HEADER]: String(process.pid) },
  });

  // Connections and how many requests each has in progress, so that stopping lets those finish.
  const inFlight = new Map<Socket, number>();
  let stopping = false;
  const stopIfDrained = () => {
    if (stopping && inFlight.size === 0) {
      s3.destroy();
      process.exit(0);
    }
  };
  server.on("request", (request, response) => {
    const socket = request.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.on("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      if (inFlight.has(socket)) inFlight.set(socket, left);
      // Past "close" the response is in the kernel's hands: the connection can go.
      if (stopping && left === 0) socket.destroy();
    });
  });

  process.on("message", (message: ToWorker, handle?: Socket) => {
    if (message.type === "connection" && handle) {
      if (stopping) {
        handle.destroy();
        return;
      }
      inFlight.set(handle, 0);
      handle.on("close", () => {
        inFlight.delete(handle);
        stopIfDrained();
      });
      server.emit("connection", handle);
      // The primary accepted it paused (no byte read there); reading starts here.
      handle.resume();
    } else if (message.type === "capture") {
      capture = message.on;
    } else if (message.type === "stop") {
      stopping = true;
      for (const [socket, requests] of inFlight) if (requests === 0) socket.destroy();
      stopIfDrained();
    }
  });
  // Ctrl-C reaches every process of the terminal's group: the primary stops this worker in order
  // (requests in progress finish first), so the signal itself is ignored here.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => {});
  // A closed stdout (`observatory dev | head`) must not end a worker: its lines are only diagnostics.
  process.stdout.on("error", () => {});
  process.stderr.on("error", () => {});
  // The primary is gone (killed): nothing will hand over connections or stop this process.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", pid: process.pid });
}

/** The event as the primary's wrappers see it: the body stays here (it can be megabytes). */
function withoutBody(event: APIGatewayProxyEventV2): APIGatewayProxyEventV2 {
  const { body: _body, ...rest } = event;
  return rest;
}

main();
