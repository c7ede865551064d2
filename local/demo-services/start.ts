import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from "aws-lambda";
import { Tracker } from "../../runtime/tracker.js";
import { type HttpLambda, startHttpLambda } from "../api-gateway.js";
import type { LocalLogPipeline } from "../log-pipeline.js";
import { createImagesHandler } from "./images.js";
import { createSearchHandler } from "./search.js";
import { createStorefrontHandler } from "./storefront.js";

/** The three demo services (A storefront -> B search -> C images), each a Lambda behind a local HTTP API. */
export interface DemoServices {
  storefront: HttpLambda;
  search: HttpLambda;
  images: HttpLambda;
  close(): Promise<void>;
}

export interface DemoServicesOptions {
  pipeline: LocalLogPipeline;
  /** The collector the services' Trackers send to; without it they only log. */
  collector?: { url: string; apiKey: string };
  /** Ports of A, B and C; 0 (default) picks free ports. */
  ports?: { storefront?: number; search?: number; images?: number };
  stage?: string;
}

type HttpHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

export async function startDemoServices(options: DemoServicesOptions): Promise<DemoServices> {
  const trackers: Tracker[] = [];
  const tracker = (service: string) => {
    if (!options.collector) return undefined;
    const t = new Tracker({
      endpoint: options.collector.url,
      apiKey: options.collector.apiKey,
      service,
      stage: options.stage ?? "local",
      flushInterval: 200,
    });
    trackers.push(t);
    return t;
  };
  const started: HttpLambda[] = [];
  const serve = async (functionName: string, port: number | undefined, handler: HttpHandler) => {
    const service = functionName.replace(/^demo-/, "");
    const server = await startHttpLambda({
      port: port ?? 0,
      functionName,
      handler: options.pipeline.lambda(functionName, handler, service),
    });
    started.push(server);
    return server;
  };
  try {
    // C first: B needs its URL, and A needs B's.
    const images = await serve(
      "demo-images",
      options.ports?.images,
      createImagesHandler({ tracker: tracker("images") }),
    );
    const search = await serve(
      "demo-search",
      options.ports?.search,
      createSearchHandler({ imagesUrl: images.url, tracker: tracker("search") }),
    );
    const storefront = await serve(
      "demo-storefront",
      options.ports?.storefront,
      createStorefrontHandler({ searchUrl: search.url }),
    );
    return {
      storefront,
      search,
      images,
      async close() {
        for (const server of started.reverse()) await server.close();
        for (const t of trackers) await t.close();
      },
    };
  } catch (error) {
    for (const server of started) await server.close();
    throw error;
  }
}
