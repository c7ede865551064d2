/**
 * Reading what a Distributed Map's ResultWriter left in S3: `<prefix>/<map run id>/manifest.json`
 * listing SUCCEEDED_n.json and FAILED_n.json files of child execution records (AWS shapes in
 * contracts.ts). The finalizer sums results across a run's attempts; a resumed planner skips items
 * whose batch already SUCCEEDED.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type {
  EtlItem,
  MapChildResult,
  ResultWriterManifest,
  S3Location,
  S3Prefix,
  WorkerEvent,
} from "./contracts.js";

export const MANIFEST_FILE = "manifest.json";

export async function getJson<T>(s3: S3Client, location: S3Location): Promise<T> {
  const response = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
  const text = await response.Body!.transformToString();
  return JSON.parse(text) as T;
}

export interface MapRunResults {
  manifest: S3Location;
  mapRunArn: string;
  succeeded: MapChildResult[];
  failed: MapChildResult[];
}

/** One map run's records, from its manifest.json. */
export async function readMapRun(s3: S3Client, manifest: S3Location): Promise<MapRunResults> {
  const body = await getJson<ResultWriterManifest>(s3, manifest);
  const read = async (files: { Key: string }[]) =>
    (
      await Promise.all(
        files.map((f) => getJson<MapChildResult[]>(s3, { bucket: body.DestinationBucket, key: f.Key })),
      )
    ).flat();
  return {
    manifest,
    mapRunArn: body.MapRunArn,
    succeeded: await read(body.ResultFiles.SUCCEEDED),
    failed: await read(body.ResultFiles.FAILED),
  };
}

/** Every map run written under a run's results prefix (one per attempt), oldest first. */
export async function readRunResults(s3: S3Client, location: S3Prefix): Promise<MapRunResults[]> {
  const manifests: { key: string; at: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: location.bucket,
        Prefix: location.prefix,
        ContinuationToken: token,
      }),
    );
    for (const o of page.Contents ?? []) {
      if (o.Key?.endsWith(`/${MANIFEST_FILE}`))
        manifests.push({ key: o.Key, at: o.LastModified?.getTime() ?? 0 });
    }
    token = page.NextContinuationToken;
  } while (token);
  manifests.sort((a, b) => a.at - b.at || a.key.localeCompare(b.key));
  return Promise.all(manifests.map((m) => readMapRun(s3, { bucket: location.bucket, key: m.key })));
}

/** The items of one child execution (its Input is the batch `{ Items, BatchInput }` as a JSON string). */
export function itemsOf(record: MapChildResult): EtlItem[] {
  const input = JSON.parse(record.Input) as Partial<WorkerEvent> & Partial<EtlItem>;
  return Array.isArray(input.Items) ? input.Items : [input as EtlItem];
}

/** Ids of items whose batch succeeded in any earlier attempt of the run. */
export function completedItemIds(runs: MapRunResults[]): Set<string> {
  const done = new Set<string>();
  for (const run of runs)
    for (const record of run.succeeded) for (const item of itemsOf(record)) done.add(item.id);
  return done;
}
