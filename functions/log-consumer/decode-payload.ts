import { gunzipSync } from "node:zlib";
import type { CloudWatchLogsDecodedData } from "aws-lambda";

/**
 * A subscription payload is base64 of gzip of JSON. CloudWatch Logs caps a delivery well below this
 * (about 1 MB compressed); a larger decompressed size means a bomb, not logs.
 */
export const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

export type DecodeResult = { ok: true; payload: CloudWatchLogsDecodedData } | { ok: false; reason: string };

/** Decodes `awslogs.data`. Never throws: a bad payload comes back with the reason, for the quarantine. */
export function decodeSubscriptionData(data: unknown): DecodeResult {
  if (typeof data !== "string" || data.length === 0)
    return { ok: false, reason: "awslogs.data is missing or not a string" };
  let text: string;
  try {
    const compressed = Buffer.from(data, "base64");
    text = gunzipSync(compressed, { maxOutputLength: MAX_DECOMPRESSED_BYTES }).toString("utf8");
  } catch (error) {
    return { ok: false, reason: `awslogs.data is not base64 gzip: ${(error as Error).message}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `decompressed payload is not JSON: ${(error as Error).message}` };
  }
  if (typeof parsed !== "object" || parsed === null)
    return { ok: false, reason: "decompressed payload is not an object" };
  const payload = parsed as Partial<CloudWatchLogsDecodedData>;
  if (typeof payload.messageType !== "string") return { ok: false, reason: "payload has no messageType" };
  if (payload.messageType === "DATA_MESSAGE") {
    if (typeof payload.logGroup !== "string" || typeof payload.logStream !== "string") {
      return { ok: false, reason: "DATA_MESSAGE without logGroup/logStream" };
    }
    if (!Array.isArray(payload.logEvents))
      return { ok: false, reason: "DATA_MESSAGE without a logEvents array" };
  }
  return { ok: true, payload: payload as CloudWatchLogsDecodedData };
}
