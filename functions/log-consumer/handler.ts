import { S3Client } from "@aws-sdk/client-s3";
import type { Client } from "@opensearch-project/opensearch";
import type { CloudWatchLogsEvent } from "aws-lambda";
import { type ConsumeResult, consumeSubscription } from "./consume.js";
import { openSearchClientFromEnv } from "./opensearch-indexer.js";

// Created once per Lambda environment, reused across invocations.
const s3 = new S3Client({});
let opensearch: Promise<Client | undefined> | undefined;

/**
 * The log consumer: CloudWatch Logs subscription deliveries -> the `logs` archive (Parquet in
 * ARCHIVE_BUCKET) and, when OPENSEARCH_ENDPOINT is set, an OpenSearch index.
 */
export async function handler(event: CloudWatchLogsEvent): Promise<ConsumeResult> {
  const bucket = process.env.ARCHIVE_BUCKET;
  if (!bucket) throw new Error("ARCHIVE_BUCKET is not set: the log consumer needs the archive bucket's name");
  opensearch ??= openSearchClientFromEnv();
  const result = await consumeSubscription(event, { s3, bucket, opensearch: await opensearch });
  // Plain stdout, not our logger: this function's own log group is never subscribed (no loop), and
  // one summary line per delivery is what an operator needs here.
  console.log(
    JSON.stringify({
      level: result.quarantined.length > 0 ? "WARN" : "INFO",
      message: "delivery consumed",
      ...result,
    }),
  );
  return result;
}
