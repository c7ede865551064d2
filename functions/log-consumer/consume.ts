import { createHash } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Client } from "@opensearch-project/opensearch";
import type { CloudWatchLogsLogEvent } from "aws-lambda";
import {
  deliveryId,
  LOGS_OPENSEARCH_FAILED_PREFIX,
  LOGS_QUARANTINE_PREFIX,
  logsObjectKey,
  partitionValue,
  serviceOfSubscriptionFilters,
} from "../../contracts/logs-table.js";
import { decodeSubscriptionData } from "./decode-payload.js";
import { indexRows } from "./opensearch-indexer.js";
import { logsParquetFiles } from "./parquet-writer.js";
import {
  type DeliverySource,
  functionNameOfLogGroup,
  type LogRow,
  parseLogEvent,
} from "./parse-log-event.js";

export interface ConsumerDependencies {
  s3: S3Client;
  bucket: string;
  opensearch?: Client;
  now?: () => Date;
}

export interface ConsumeResult {
  status: "data" | "control" | "quarantined";
  rows: number;
  /** Parquet objects written to the archive. */
  objects: string[];
  /** Objects written to the quarantine (a bad payload, bad log events, refused OpenSearch documents). */
  quarantined: string[];
  opensearch?: { indexed: number; failed: number };
}

type Obj = Record<string, unknown>;

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const sha = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 32);

async function put(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string | Buffer,
  contentType: string,
): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType }));
}

function isValidLogEvent(value: unknown): value is CloudWatchLogsLogEvent {
  const e = value as Obj;
  return (
    typeof e === "object" &&
    e !== null &&
    typeof e.id === "string" &&
    e.id.length > 0 &&
    typeof e.message === "string" &&
    typeof e.timestamp === "number" &&
    Number.isFinite(e.timestamp)
  );
}

/**
 * The service of a delivery's lines that do not name one (platform lines, plain text): the service
 * its JSON lines name, else the function of the log group, else the log group itself.
 */
function deliveryService(rows: readonly LogRow[], source: DeliverySource): string {
  return (
    rows.find((r) => r.service !== null)?.service ??
    functionNameOfLogGroup(source.logGroup) ??
    source.logGroup
  );
}

/**
 * Platform lines (START/END/REPORT) carry only the request id. When every line of that request in
 * this delivery carries the same correlation ID, the platform lines get it too, so a trace shows the
 * invocation's duration and memory beside its lines. (A batch invocation with several IDs keeps null.)
 */
function fillCorrelationOfPlatformLines(rows: LogRow[]): void {
  const byRequest = new Map<string, string | null>();
  for (const row of rows) {
    if (row.function_request_id === null || row.correlation_id === null) continue;
    const known = byRequest.get(row.function_request_id);
    byRequest.set(
      row.function_request_id,
      known === undefined || known === row.correlation_id ? row.correlation_id : null,
    );
  }
  for (const row of rows) {
    if (row.correlation_id === null && row.function_request_id !== null)
      row.correlation_id = byRequest.get(row.function_request_id) ?? null;
  }
}

/**
 * Handles one CloudWatch Logs subscription delivery: decode, parse every line, write Parquet to the
 * archive (one object per dt/service, keyed by the delivery so a retry overwrites), index into
 * OpenSearch when configured. Bad payloads and bad events go to the quarantine with the reason.
 * Throws only when storage fails, so Lambda retries the whole (idempotent) delivery.
 */
export async function consumeSubscription(
  event: unknown,
  deps: ConsumerDependencies,
): Promise<ConsumeResult> {
  const now = (deps.now ?? (() => new Date()))();
  const data = (event as { awslogs?: { data?: unknown } } | null)?.awslogs?.data;
  const decoded = decodeSubscriptionData(data);
  if (!decoded.ok) {
    const raw = typeof data === "string" ? data : JSON.stringify(event ?? null);
    const key = `${LOGS_QUARANTINE_PREFIX}dt=${day(now.getTime())}/payload-${sha(raw)}.json`;
    await put(
      deps.s3,
      deps.bucket,
      key,
      JSON.stringify({ quarantined_at: now.toISOString(), reasons: [decoded.reason], payload: raw }),
      "application/json",
    );
    return { status: "quarantined", rows: 0, objects: [], quarantined: [key] };
  }
  const payload = decoded.payload;
  if (payload.messageType === "CONTROL_MESSAGE")
    return { status: "control", rows: 0, objects: [], quarantined: [] };

  const source: DeliverySource = {
    logGroup: payload.logGroup,
    logStream: payload.logStream,
    owner: typeof payload.owner === "string" ? payload.owner : null,
  };
  const events = payload.logEvents as unknown[];
  const valid = events.filter(isValidLogEvent);
  const invalid = events.filter((e) => !isValidLogEvent(e));
  const firstId = valid[0]?.id ?? sha(JSON.stringify(events));
  const delivery = deliveryId(source.logGroup, source.logStream, firstId);
  const quarantined: string[] = [];
  if (invalid.length > 0) {
    const key = `${LOGS_QUARANTINE_PREFIX}dt=${day(now.getTime())}/events-${delivery}.json`;
    const body = JSON.stringify({
      quarantined_at: now.toISOString(),
      reasons: ["log events without a string id, a numeric timestamp and a string message"],
      log_group: source.logGroup,
      log_stream: source.logStream,
      events: invalid,
    });
    await put(deps.s3, deps.bucket, key, body, "application/json");
    quarantined.push(key);
  }

  const rows = valid.map((e) => parseLogEvent(e, source));
  // A LogCentralizer filter names the log group's service: every line of the group goes there. Without
  // one (another subscriber, the local stack), each line's own service decides.
  const filterService = serviceOfSubscriptionFilters(payload.subscriptionFilters);
  const fallbackService = deliveryService(rows, source);
  for (const row of rows) row.service = partitionValue(filterService ?? row.service ?? fallbackService);
  fillCorrelationOfPlatformLines(rows);

  const partitions = new Map<string, LogRow[]>();
  for (const row of rows) {
    const key = logsObjectKey(day(row.time), row.service!, source.logGroup, source.logStream, firstId);
    const list = partitions.get(key);
    if (list) list.push(row);
    else partitions.set(key, [row]);
  }
  const objects: string[] = [];
  const keys = [...partitions.keys()];
  const files = await logsParquetFiles([...partitions.values()]);
  for (const [i, key] of keys.entries()) {
    await put(deps.s3, deps.bucket, key, files[i] as Buffer, "application/vnd.apache.parquet");
    objects.push(key);
  }

  let opensearch: ConsumeResult["opensearch"];
  if (deps.opensearch && rows.length > 0) {
    const result = await indexRows(deps.opensearch, rows);
    opensearch = { indexed: result.indexed, failed: result.failed.length };
    if (result.failed.length > 0) {
      const key = `${LOGS_OPENSEARCH_FAILED_PREFIX}dt=${day(now.getTime())}/${delivery}.ndjson`;
      await put(
        deps.s3,
        deps.bucket,
        key,
        result.failed.map((f) => JSON.stringify(f)).join("\n"),
        "application/x-ndjson",
      );
      quarantined.push(key);
    }
  }
  return { status: "data", rows: rows.length, objects, quarantined, opensearch };
}
