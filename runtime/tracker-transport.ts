/**
 * One POST of a gzip batch to the collector, over node:http / node:https with a keep-alive agent.
 *
 * Why not the global fetch: Node 20's fetch (undici 6.24) never settles when the server resets a new
 * connection (a proxy or load balancer with no healthy backend does that): the promise waits for the
 * abort signal, and AbortSignal.timeout's timer is unref'd, so a short-lived script exited silently
 * with its events (exit 13, "unsettled top-level await"). node:http reports the reset at once
 * (ECONNRESET), and the Tracker retries it like any network error.
 */
import http from "node:http";
import https from "node:https";

export interface PostResult {
  status: number;
  retryAfter: string | null;
  text: string;
}

/** A failed request: `code` is the socket error's (ECONNRESET, ECONNREFUSED, ...) or "ETIMEDOUT". */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "TransportError";
  }
}

export class BatchTransport {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;

  constructor(url: string, maxSockets: number) {
    this.url = new URL(url);
    const secure = this.url.protocol === "https:";
    if (!secure && this.url.protocol !== "http:")
      throw new Error(`endpoint must be http:// or https://, got ${this.url.protocol}`);
    // Idle keep-alive sockets are unref'd by the agent: they never keep a process alive.
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets })
      : new http.Agent({ keepAlive: true, maxSockets });
    this.request = secure ? https.request : http.request;
  }

  /**
   * Resolves with the answer, or rejects with a TransportError. The timeout timer is ref'd on purpose:
   * a batch in flight is accepted work, and the process must not exit before it has an outcome.
   */
  post(headers: Record<string, string>, body: Buffer, timeoutMs: number): Promise<PostResult> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error: TransportError | undefined, result?: PostResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(result!);
      };
      const request = this.request(this.url, {
        method: "POST",
        agent: this.agent,
        headers: { ...headers, "content-length": String(body.length) },
      });
      const timer = setTimeout(() => {
        finish(new TransportError(`timed out after ${timeoutMs} ms`, "ETIMEDOUT"));
        request.destroy();
      }, timeoutMs);
      request.on("error", (error: NodeJS.ErrnoException) =>
        finish(new TransportError(error.message, error.code)),
      );
      request.on("response", (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", (error: NodeJS.ErrnoException) =>
          finish(new TransportError(error.message, error.code)),
        );
        response.on("aborted", () => finish(new TransportError("response aborted", "ECONNRESET")));
        response.on("end", () =>
          finish(undefined, {
            status: response.statusCode ?? 0,
            retryAfter: (response.headers["retry-after"] as string | undefined) ?? null,
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      });
      request.end(body);
    });
  }

  /**
   * Destroys the agent's sockets, idle and in use alike (a request still in flight fails): call it
   * once nothing is in flight, as Tracker.close() does after its flush.
   */
  close(): void {
    this.agent.destroy();
  }
}
