import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { currentCorrelationContext } from "../../runtime/correlation-context.js";
import { withCorrelation } from "../../runtime/correlation-handler.js";
import { createLogger } from "../../runtime/logger.js";
import type { Tracker } from "../../runtime/tracker.js";

/** Most thumbnails one request may ask for: a page of results, not a bulk export. */
export const MAX_THUMBNAILS_PER_REQUEST = 50;

/**
 * Service C of the logging demo: returns thumbnail URLs for image ids and tracks `downloaded_img`
 * for each (with the correlation ID of the request that started at the storefront).
 */
export function createImagesHandler(options: { tracker?: Tracker }) {
  const logger = createLogger({ service: "images" });
  return withCorrelation(
    async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
      const ids = (event.queryStringParameters?.ids ?? "").split(",").filter(Boolean);
      const user = event.queryStringParameters?.user ?? "anonymous";
      if (ids.length > MAX_THUMBNAILS_PER_REQUEST) {
        logger.warn("too many thumbnails asked", { requested: ids.length, max: MAX_THUMBNAILS_PER_REQUEST });
        return {
          statusCode: 400,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ error: `at most ${MAX_THUMBNAILS_PER_REQUEST} ids` }),
        };
      }
      const thumbnails: Record<string, string> = {};
      for (const id of ids) {
        thumbnails[id] = `https://images.example.com/thumb/${id}.webp`;
        // A stable size per image, so repeated demos give the same numbers.
        const size = 1024 + ([...id].reduce((n, ch) => n + ch.charCodeAt(0), 0) % 64) * 256;
        options.tracker?.track(
          "downloaded_img",
          { image_id: id, image_size: size },
          { userId: user, context: { function_name: currentCorrelationContext()?.functionName } },
        );
      }
      logger.info("thumbnails served", { count: ids.length });
      return {
        statusCode: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ thumbnails }),
      };
    },
    { logger, flush: options.tracker ? [options.tracker] : [] },
  );
}
