/**
 * A real HTTP server on 127.0.0.1 (free port) that records every request a Tracker makes - arrival time,
 * headers, gunzipped and parsed body - and answers as each test scripts it. Used by the Tracker tests
 * and by bench/tracker.bench.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface ReceivedRequest {
  /** 0-based arrival order. */
  index: number;
  /** Date.now() when the request's headers arrived. */
  arrivedAt: number;
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  /** Bytes on the wire (gzip when content-encoding says so). */
  wireBytes: number;
  /** The decoded body text. */
  text: string;
  /** The parsed body, when it is JSON. */
  body: { batch?: Array<Record<string, unknown>>; sent_at?: string; [key: string]: unknown } | undefined;
}

/** What the sink answers; `"destroy"` cuts the connection without an answer (a network error for the client). */
export type SinkReply =
  | { status: number; headers?: Record<string, string>; body?: unknown; delayMs?: number }
  | "destroy"
  | "hang";

export type SinkScript = (request: ReceivedRequest) => SinkReply;

export interface Sink {
  url: string;
  requests: ReceivedRequest[];
  /** Every event of every request, in arrival order. */
  events(): Array<Record<string, unknown>>;
  /** How many events arrived (also when bodies are not kept). */
  eventCount(): number;
  setScript(script: SinkScript): void;
  close(): Promise<void>;
}

/** Answers like the collector: 200 with every event accepted. */
export const acceptAll: SinkScript = (request) => ({
  status: 200,
  body: { accepted: request.body?.batch?.length ?? 0, rejected: [] },
});

export async function startSink(
  script: SinkScript = acceptAll,
  options: { keepBodies?: boolean; port?: number; keepAliveTimeoutMs?: number } = {},
): Promise<Sink> {
  const requests: ReceivedRequest[] = [];
  let current = script;
  let count = 0;
  let eventCount = 0;
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const arrivedAt = Date.now();
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      let text: string;
      try {
        text = (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
      } catch {
        text = raw.toString("latin1");
      }
      let body: ReceivedRequest["body"];
      try {
        body = JSON.parse(text) as ReceivedRequest["body"];
      } catch {
        body = undefined;
      }
      const request: ReceivedRequest = {
        index: count++,
        arrivedAt,
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        wireBytes: raw.length,
        text: options.keepBodies === false ? "" : text,
        body,
      };
      const reply = current(request);
      eventCount += Array.isArray(body?.batch) ? body.batch.length : 0;
      if (options.keepBodies === false) request.body = undefined;
      requests.push(request);
      if (reply === "destroy") {
        req.socket.destroy();
        return;
      }
      if (reply === "hang") return;
      const send = () => {
        res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
        res.end(reply.body === undefined ? "" : JSON.stringify(reply.body));
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  };
  const server = createServer(handle);
  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    events: () => requests.flatMap((r) => r.body?.batch ?? []),
    eventCount: () => eventCount,
    setScript: (next) => {
      current = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
