/**
 * Writes a Map Run's child execution records to S3 the way a Distributed Map's ResultWriter does:
 * `<Prefix>/<map run id>/SUCCEEDED_0.json`, `FAILED_0.json` (JSON arrays of execution records) and a
 * `manifest.json` listing them; the Map's output is then `{ MapRunArn, ResultWriterDetails }`.
 * Shapes: https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { MapChildResult, MapRunOutput, ResultWriterManifest } from "../../etl/contracts.js";

export async function writeMapRunResults(
  s3: S3Client,
  o: { bucket: string; prefix: string; mapRunArn: string; mapRunId: string; records: MapChildResult[] },
): Promise<MapRunOutput> {
  const base = o.prefix === "" ? `${o.mapRunId}/` : `${o.prefix.replace(/\/+$/, "")}/${o.mapRunId}/`;
  const put = async (key: string, body: string) => {
    await s3.send(
      new PutObjectCommand({ Bucket: o.bucket, Key: key, Body: body, ContentType: "application/json" }),
    );
    return { Key: key, Size: Buffer.byteLength(body) };
  };
  const files: ResultWriterManifest["ResultFiles"] = { FAILED: [], PENDING: [], SUCCEEDED: [] };
  const succeeded = o.records.filter((r) => r.Status === "SUCCEEDED");
  const failed = o.records.filter((r) => r.Status !== "SUCCEEDED");
  if (succeeded.length > 0)
    files.SUCCEEDED.push(await put(`${base}SUCCEEDED_0.json`, JSON.stringify(succeeded)));
  if (failed.length > 0) files.FAILED.push(await put(`${base}FAILED_0.json`, JSON.stringify(failed)));
  const manifest: ResultWriterManifest = {
    DestinationBucket: o.bucket,
    MapRunArn: o.mapRunArn,
    ResultFiles: files,
  };
  const manifestKey = `${base}manifest.json`;
  await put(manifestKey, JSON.stringify(manifest));
  return { MapRunArn: o.mapRunArn, ResultWriterDetails: { Bucket: o.bucket, Key: manifestKey } };
}
