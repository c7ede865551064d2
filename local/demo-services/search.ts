import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { currentCorrelationContext } from "../../runtime/correlation-context.js";
import { correlatedFetch } from "../../runtime/correlation-fetch.js";
import { withCorrelation } from "../../runtime/correlation-handler.js";
import { createLogger } from "../../runtime/logger.js";
import type { Tracker } from "../../runtime/tracker.js";

/** A small catalog: enough for searches with zero, one or several results. */
export const DEMO_CATALOG = [
  { image_id: "img-cat-1", title: "cat on a sofa" },
  { image_id: "img-cat-2", title: "cat in the snow" },
  { image_id: "img-dog-1", title: "dog with a ball" },
  { image_id: "img-sea-1", title: "sea at dawn" },
];

/**
 * Service B of the logging demo: searches the catalog, asks the image service (C) for thumbnails of
 * the hits, and tracks `search_made` (the Tracker stamps the request's correlation ID on the event).
 */
export function createSearchHandler(options: { imagesUrl: string; tracker?: Tracker; fetch?: typeof fetch }) {
  const logger = createLogger({ service: "search" });
  const fetchWithId = correlatedFetch(options.fetch);
  return withCorrelation(
    async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
      const query = (event.queryStringParameters?.q ?? "").toLowerCase();
      const user = event.queryStringParameters?.user ?? "anonymous";
      logger.debug("catalog scan", { catalog_size: DEMO_CATALOG.length });
      const hits = DEMO_CATALOG.filter((item) => item.title.includes(query));
      logger.info("catalog searched", { query, n_results: hits.length });
      let thumbnails: Record<string, string> = {};
      if (hits.length > 0) {
        const response = await fetchWithId(
          `${options.imagesUrl}/thumbnails?ids=${hits.map((h) => h.image_id).join(",")}&user=${encodeURIComponent(user)}`,
        );
        if (response.ok)
          thumbnails = ((await response.json()) as { thumbnails: Record<string, string> }).thumbnails;
        else logger.warn("thumbnails unavailable", { status: response.status });
      }
      options.tracker?.track(
        "search_made",
        { query, n_results: hits.length },
        { userId: user, context: { function_name: currentCorrelationContext()?.functionName } },
      );
      return {
        statusCode: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          results: hits.map((h) => ({ ...h, thumbnail: thumbnails[h.image_id] ?? null })),
        }),
      };
    },
    { logger, flush: options.tracker ? [options.tracker] : [] },
  );
}
