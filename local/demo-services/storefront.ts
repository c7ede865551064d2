import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { correlatedFetch } from "../../runtime/correlation-fetch.js";
import { withCorrelation } from "../../runtime/correlation-handler.js";
import { createLogger } from "../../runtime/logger.js";

/**
 * Service A of the logging demo: the public storefront. `GET /search?q=...` asks the search service
 * (B) over HTTP, passing the correlation ID on, and answers with what it found.
 */
export function createStorefrontHandler(options: { searchUrl: string; fetch?: typeof fetch }) {
  const logger = createLogger({ service: "storefront" });
  const fetchWithId = correlatedFetch(options.fetch);
  return withCorrelation(
    async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
      const query = event.queryStringParameters?.q ?? "";
      const user = event.queryStringParameters?.user ?? "anonymous";
      logger.info("search page requested", { query, user, path: event.rawPath });
      if (!query) {
        logger.warn("empty query refused");
        return {
          statusCode: 400,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ error: "q is required" }),
        };
      }
      const response = await fetchWithId(
        `${options.searchUrl}/search?q=${encodeURIComponent(query)}&user=${encodeURIComponent(user)}`,
      );
      if (!response.ok) {
        logger.error("search service failed", { status: response.status });
        return {
          statusCode: 502,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ error: "search is unavailable" }),
        };
      }
      const results = (await response.json()) as { results: unknown[] };
      logger.info("search page rendered", { n_results: results.results.length });
      return {
        statusCode: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(results),
      };
    },
    { logger },
  );
}
