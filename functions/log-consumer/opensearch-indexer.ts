import { Client } from "@opensearch-project/opensearch";
import type { LogRow } from "./parse-log-event.js";

/** Documents per _bulk request: keeps each request a few MB at most, well under OpenSearch's 100 MB default http.max_content_length. */
export const MAX_BULK_DOCUMENTS = 500;
/** Index per UTC day, so retention is deleting old indices. */
export const OPENSEARCH_INDEX_PREFIX = "logs-";

export interface IndexFailure {
  document: Record<string, unknown>;
  index: string;
  id: string;
  status: number | null;
  error: string;
}

export interface IndexResult {
  indexed: number;
  failed: IndexFailure[];
}

export function indexName(timeMs: number): string {
  return `${OPENSEARCH_INDEX_PREFIX}${new Date(timeMs).toISOString().slice(0, 10).replaceAll("-", ".")}`;
}

/** A document for OpenSearch: the row with ISO times and `fields` as an object, `_id` is the log event id (a retry overwrites). */
function document(row: LogRow): Record<string, unknown> {
  let fields: unknown = null;
  if (row.fields !== null) {
    try {
      fields = JSON.parse(row.fields);
    } catch {
      fields = row.fields;
    }
  }
  return {
    ...row,
    "@timestamp": new Date(row.time).toISOString(),
    ingested_at: new Date(row.ingested_at).toISOString(),
    time: undefined,
    fields,
  };
}

/**
 * Bulk-indexes rows. Never throws: documents OpenSearch refused (per-item errors) and whole requests
 * that failed come back as failures, for the caller to back up to S3.
 */
export async function indexRows(client: Client, rows: readonly LogRow[]): Promise<IndexResult> {
  const failed: IndexFailure[] = [];
  let indexed = 0;
  for (let start = 0; start < rows.length; start += MAX_BULK_DOCUMENTS) {
    const chunk = rows.slice(start, start + MAX_BULK_DOCUMENTS);
    const docs = chunk.map((row) => ({
      index: indexName(row.time),
      id: row.log_id,
      document: document(row),
    }));
    const body = docs.flatMap((d) => [{ index: { _index: d.index, _id: d.id } }, d.document]);
    try {
      const response = await client.bulk({ body });
      const items =
        (response.body as { items?: Record<string, { status?: number; error?: unknown }>[] }).items ?? [];
      docs.forEach((d, i) => {
        const result = items[i] ? Object.values(items[i]!)[0] : undefined;
        if (result && result.status !== undefined && result.status < 300 && !result.error) indexed++;
        else {
          const error =
            result?.error === undefined
              ? "no result for this document in the bulk response"
              : JSON.stringify(result.error);
          failed.push({ ...d, status: result?.status ?? null, error });
        }
      });
    } catch (error) {
      for (const d of docs)
        failed.push({ ...d, status: null, error: `bulk request failed: ${(error as Error).message}` });
    }
  }
  return { indexed, failed };
}

/** A client for OPENSEARCH_ENDPOINT (SigV4 on AWS when OPENSEARCH_SIGV4_SERVICE is es or aoss). */
export async function openSearchClientFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Promise<Client | undefined> {
  const node = env.OPENSEARCH_ENDPOINT;
  if (!node) return undefined;
  return openSearchClient(node, env.OPENSEARCH_SIGV4_SERVICE, env.AWS_REGION);
}

/** A client for `node`; requests are SigV4-signed for `es` (domain) or `aoss` (serverless). */
export async function openSearchClient(
  node: string,
  sigv4Service?: string,
  region?: string,
): Promise<Client> {
  const service = sigv4Service || undefined;
  if (service !== undefined && service !== "es" && service !== "aoss") {
    throw new Error(
      `OpenSearch SigV4 service must be "es" (domain) or "aoss" (serverless), got ${JSON.stringify(service)}`,
    );
  }
  if (service === undefined) return new Client({ node });
  const { AwsSigv4Signer } = await import("@opensearch-project/opensearch/aws");
  const { defaultProvider } = await import("@aws-sdk/credential-provider-node");
  return new Client({
    node,
    ...AwsSigv4Signer({ region: region ?? "us-east-1", service, getCredentials: defaultProvider() }),
  });
}
