import type { Client } from "@opensearch-project/opensearch";
import { OPENSEARCH_INDEX_PREFIX } from "../functions/log-consumer/opensearch-indexer.js";
import { DEFAULT_TRACE_DAYS, type TimelineEntry } from "./timeline.js";

/** OpenSearch's default index.max_result_window: one request's lines fit many times over. */
export const MAX_TRACE_HITS = 10_000;

export interface OpenSearchTraceOptions {
  client: Client;
  correlationId: string;
  days?: number;
  now?: Date;
}

interface LogDocument {
  "@timestamp": string;
  log_id?: string;
  service?: string | null;
  function_name?: string | null;
  function_request_id?: string | null;
  level?: string | null;
  message?: string;
}

/** Matches a keyword whether dynamic mapping made the field `text` + `.keyword` or a template made it `keyword`. */
const exact = (field: string, value: string | string[]) => {
  const kind = Array.isArray(value) ? "terms" : "term";
  return {
    bool: {
      should: [{ [kind]: { [field]: value } }, { [kind]: { [`${field}.keyword`]: value } }],
      minimum_should_match: 1,
    },
  };
};

async function search(client: Client, query: object, since: string): Promise<LogDocument[]> {
  const response = await client.search({
    index: `${OPENSEARCH_INDEX_PREFIX}*`,
    body: {
      size: MAX_TRACE_HITS,
      sort: [{ "@timestamp": { order: "asc" } }],
      query: { bool: { filter: [query, { range: { "@timestamp": { gte: since } } }] } },
    },
  });
  const hits = (response.body as { hits?: { hits?: { _source?: LogDocument }[] } }).hits?.hits ?? [];
  return hits.flatMap((h) => (h._source ? [h._source] : []));
}

/**
 * The log lines of one correlation ID from the OpenSearch index the consumer fills (events are not
 * indexed there: use the local or Athena trace for those). Platform lines without an ID join in through
 * their request id, as in the other traces.
 */
export async function traceOpenSearch(options: OpenSearchTraceOptions): Promise<TimelineEntry[]> {
  const now = options.now ?? new Date();
  const since = new Date(now.getTime() - (options.days ?? DEFAULT_TRACE_DAYS) * 86_400_000).toISOString();
  const lines = await search(options.client, exact("correlation_id", options.correlationId), since);
  const requestIds = [
    ...new Set(lines.map((l) => l.function_request_id).filter((id): id is string => typeof id === "string")),
  ];
  const platform =
    requestIds.length === 0
      ? []
      : await search(
          options.client,
          {
            bool: {
              filter: [exact("function_request_id", requestIds)],
              must_not: [{ exists: { field: "correlation_id" } }],
            },
          },
          since,
        );
  return [...lines, ...platform].map((d) => ({
    time: new Date(d["@timestamp"]),
    service: d.service ?? null,
    function: d.function_name ?? null,
    level: d.level ?? null,
    kind: "log" as const,
    message: d.message ?? "",
    ...(d.log_id ? { seq: d.log_id } : {}),
  }));
}
