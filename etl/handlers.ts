/**
 * The Lambda handlers of a job, built from its plain functions (jobs.ts) and implementing the
 * contracts in contracts.ts. functions/<job>-planner|worker|finalizer/handler.ts export these with an
 * AWS S3 client; the local runner binds the same functions with a client for the local S3.
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  checkRunId,
  type DistributedPlan,
  type EtlItem,
  type FinalizerEvent,
  type InlinePlan,
  type JsonValue,
  type MapRunOutput,
  type PlannerEvent,
  type PlannerResult,
  type RunSummary,
  type WorkerEvent,
} from "./contracts.js";
import { resolveSpec } from "./job-spec.js";
import type { EtlJob } from "./jobs.js";
import { completedItemIds, itemsOf, readMapRun, readRunResults } from "./map-results.js";

const SECONDS_PER_DAY = 86_400;

export type S3Factory = () => S3Client;

/** Manifest key of one planning attempt: attempts of a run never overwrite each other's manifest. */
export function manifestKey(prefix: string, job: string, runId: string, at: Date): string {
  return `${prefix}${job}/${runId}/manifest-${at.getTime()}.jsonl`;
}

function checkItems(items: EtlItem[], job: string): void {
  const seen = new Set<string>();
  for (const [index, item] of items.entries()) {
    if (typeof item?.id !== "string" || item.id === "")
      throw new Error(`job ${job}: item ${index} has no string "id" (needed to resume a run)`);
    if (seen.has(item.id)) throw new Error(`job ${job}: item id ${JSON.stringify(item.id)} is planned twice`);
    seen.add(item.id);
  }
}

export function plannerHandler<Item extends EtlItem, Result extends JsonValue>(
  job: EtlJob<Item, Result>,
  s3: S3Factory,
) {
  const spec = resolveSpec(job.spec);
  return async (event: PlannerEvent): Promise<PlannerResult & { items?: Item[] }> => {
    checkRunId(event.run_id);
    const client = s3();
    const now = new Date();
    const all = await job.plan({
      s3: client,
      job: event.job,
      run_id: event.run_id,
      input: event.input,
      bucket: event.manifest_location.bucket,
    });
    checkItems(all, event.job);
    const done =
      spec.mode === "distributed"
        ? completedItemIds(await readRunResults(client, event.results_location))
        : new Set<string>();
    const items = all.filter((item) => !done.has(item.id));
    const common = {
      item_count: items.length,
      skipped_count: all.length - items.length,
      expires_at: Math.floor(now.getTime() / 1000) + event.ledger_ttl_days * SECONDS_PER_DAY,
    };
    if (spec.mode === "inline") return { ...common, items } satisfies InlinePlan;
    const key = manifestKey(event.manifest_location.prefix, event.job, event.run_id, now);
    await client.send(
      new PutObjectCommand({
        Bucket: event.manifest_location.bucket,
        Key: key,
        // A Buffer, not a string: the SDK then knows the length even for an empty manifest.
        Body: Buffer.from(items.map((item) => `${JSON.stringify(item)}\n`).join("")),
        ContentType: "application/x-ndjson",
      }),
    );
    return { ...common, manifest: { bucket: event.manifest_location.bucket, key } } satisfies DistributedPlan;
  };
}

export function workerHandler<Item extends EtlItem, Result extends JsonValue>(
  job: EtlJob<Item, Result>,
  s3: S3Factory,
) {
  return async (event: WorkerEvent<Item>): Promise<Result> => {
    const { job: name, run_id, input } = event.BatchInput;
    return job.work(event.Items, { s3: s3(), job: name, run_id, input });
  };
}

function isMapRunOutput(map: FinalizerEvent["map"]): map is MapRunOutput {
  return !Array.isArray(map) && typeof map === "object" && map !== null && "ResultWriterDetails" in map;
}

export function finalizerHandler<Item extends EtlItem, Result extends JsonValue>(
  job: EtlJob<Item, Result>,
  s3: S3Factory,
) {
  return async (event: FinalizerEvent): Promise<RunSummary> => {
    const client = s3();
    const ctx = {
      s3: client,
      job: event.job,
      run_id: event.run_id,
      input: event.input,
      bucket: event.results_location.bucket,
    };
    const total = event.plan.item_count + event.plan.skipped_count;
    if (!isMapRunOutput(event.map)) {
      // Inline: the Map fails on any failed item, so reaching here means every item succeeded.
      const output = await job.finalize(event.map as Result[], ctx);
      return {
        total_items: total,
        succeeded_items: total,
        failed_items: 0,
        skipped_items: 0,
        failed_items_location: null,
        output,
      };
    }
    const details = event.map.ResultWriterDetails;
    const current = await readMapRun(client, { bucket: details.Bucket, key: details.Key });
    const earlier = (await readRunResults(client, event.results_location)).filter(
      (r) => r.manifest.key !== details.Key,
    );
    const succeededIds = new Set<string>();
    const results: Result[] = [];
    for (const run of [...earlier, current]) {
      for (const record of run.succeeded) {
        const ids = itemsOf(record).map((i) => i.id);
        // A batch counts once even if a later attempt somehow redid it.
        if (ids.some((id) => succeededIds.has(id))) continue;
        for (const id of ids) succeededIds.add(id);
        results.push(JSON.parse(record.Output ?? "null") as Result);
      }
    }
    const failedIds = new Set(
      current.failed.flatMap((r) => itemsOf(r).map((i) => i.id)).filter((id) => !succeededIds.has(id)),
    );
    const output = await job.finalize(results, ctx);
    return {
      total_items: total,
      succeeded_items: succeededIds.size,
      failed_items: failedIds.size,
      skipped_items: event.plan.skipped_count,
      failed_items_location: failedIds.size > 0 ? `s3://${details.Bucket}/${details.Key}` : null,
      output,
    };
  };
}
