/**
 * The thin adapter that gives aws-local-stepfunctions a Distributed Map. The library runs a Map over
 * an array in state and ignores ItemReader, ItemBatcher, ResultWriter and the tolerated failures;
 * this module honors them as the AWS documentation specifies:
 *  - ItemReader (s3:getObject, ReaderConfig InputType JSONL | JSON, MaxItems) reads the items from S3;
 *  - ItemSelector shapes each item ($$.Map.Item.Index/Value);
 *  - ItemBatcher groups them: at most MaxItemsPerBatch items and MaxInputBytesPerBatch bytes per
 *    child, whose input is `{ "Items": [...], "BatchInput": {...} }`;
 *  - MaxConcurrency is a real limit on child executions in flight;
 *  - ToleratedFailureCount / ToleratedFailurePercentage: over either, no new child starts, and the
 *    state fails with States.ExceedToleratedFailureThreshold (neither set: no failure tolerated);
 *  - ResultWriter (s3:putObject) writes manifest.json + SUCCEEDED_0.json / FAILED_0.json and the
 *    state's result is `{ MapRunArn, ResultWriterDetails }`; without it, the array of child outputs.
 * Any other field, or an unsupported value, throws before the execution starts: nothing is silently
 * ignored.
 */
import { randomUUID } from "node:crypto";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { MapState, StateMachineDefinition } from "../../etl/asl.js";
import type { MapChildResult } from "../../etl/contracts.js";
import { MAX_BATCH_BYTES } from "../../etl/job-spec.js";
import { evaluateTemplate } from "./payload-template.js";
import { writeMapRunResults } from "./result-writer.js";

/** AWS lets an unset/0 MaxConcurrency run up to 10,000 children; one process can't, so locally we cap it. */
export const LOCAL_UNBOUNDED_CONCURRENCY = 256;
export const TOLERANCE_EXCEEDED = "States.ExceedToleratedFailureThreshold";
export const ITEM_READER_FAILED = "States.ItemReaderFailed";
export const RESULT_WRITER_FAILED = "States.ResultWriterFailed";

/** Fields of a Distributed Map state the adapter honors (the Task wrapper keeps the I/O and error fields). */
const ADAPTER_FIELDS = new Set([
  "Type",
  "Comment",
  "ItemReader",
  "ItemSelector",
  "ItemBatcher",
  "ItemProcessor",
  "MaxConcurrency",
  "ToleratedFailurePercentage",
  "ToleratedFailureCount",
  "ResultWriter",
  "Label",
]);
/** Fields the library handles on the Task that stands in for the Map. */
export const WRAPPER_FIELDS = new Set([
  "InputPath",
  "OutputPath",
  "ResultPath",
  "ResultSelector",
  "Next",
  "End",
  "Retry",
  "Catch",
]);

export class DistributedMapError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

function unknownKeys(object: object, allowed: string[], where: string): void {
  const extra = Object.keys(object).filter((k) => !allowed.includes(k));
  if (extra.length > 0)
    throw new Error(
      `local Distributed Map: ${where} has fields the adapter does not implement: ${extra.join(", ")}`,
    );
}

/** Fails loudly on any field or value the adapter would otherwise ignore. */
export function checkDistributedMap(name: string, state: MapState): void {
  const where = `state ${JSON.stringify(name)}`;
  const extra = Object.keys(state).filter((k) => !ADAPTER_FIELDS.has(k) && !WRAPPER_FIELDS.has(k));
  if (extra.length > 0)
    throw new Error(
      `local Distributed Map: ${where} has fields the adapter does not implement: ${extra.join(", ")}`,
    );
  const reader = state.ItemReader;
  if (!reader)
    throw new Error(
      `local Distributed Map: ${where} needs an ItemReader (items in state are an inline Map's job)`,
    );
  unknownKeys(reader, ["Resource", "ReaderConfig", "Parameters"], `${where} ItemReader`);
  if (reader.Resource !== "arn:aws:states:::s3:getObject")
    throw new Error(
      `local Distributed Map: ${where} ItemReader Resource ${reader.Resource} is not supported (only s3:getObject)`,
    );
  unknownKeys(reader.ReaderConfig ?? {}, ["InputType", "MaxItems"], `${where} ItemReader.ReaderConfig`);
  if (!["JSONL", "JSON"].includes(reader.ReaderConfig?.InputType ?? "")) {
    throw new Error(
      `local Distributed Map: ${where} ReaderConfig.InputType ${reader.ReaderConfig?.InputType} is not supported (JSONL, JSON)`,
    );
  }
  if (state.ItemBatcher)
    unknownKeys(
      state.ItemBatcher,
      ["MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput"],
      `${where} ItemBatcher`,
    );
  if (state.ResultWriter) {
    unknownKeys(state.ResultWriter, ["Resource", "Parameters"], `${where} ResultWriter`);
    if (state.ResultWriter.Resource !== "arn:aws:states:::s3:putObject")
      throw new Error(`local Distributed Map: ${where} ResultWriter Resource must be s3:putObject`);
  }
  unknownKeys(
    state.ItemProcessor,
    ["ProcessorConfig", "StartAt", "States", "Comment"],
    `${where} ItemProcessor`,
  );
}

export interface MapProgress {
  state: string;
  total_items: number;
  succeeded_items: number;
  failed_items: number;
  in_flight: number;
}

export interface DistributedMapEnv {
  s3: S3Client;
  stateMachineArn: string;
  /** The execution's context object (for `$$` in templates). */
  context: Record<string, unknown>;
  /** Runs one child execution of the (prepared) ItemProcessor; rejects with the child's error. */
  runChild(
    definition: StateMachineDefinition,
    input: unknown,
    context: Record<string, unknown>,
  ): Promise<unknown>;
  onProgress?: (progress: MapProgress) => void;
}

async function readItems(state: MapState, input: unknown, env: DistributedMapEnv): Promise<unknown[]> {
  const reader = state.ItemReader!;
  const params = (await evaluateTemplate(reader.Parameters, input, env.context)) as {
    Bucket?: string;
    Key?: string;
  };
  if (typeof params.Bucket !== "string" || typeof params.Key !== "string") {
    throw new DistributedMapError(
      ITEM_READER_FAILED,
      `ItemReader Parameters must give Bucket and Key, got ${JSON.stringify(params)}`,
    );
  }
  let text: string;
  try {
    const response = await env.s3.send(new GetObjectCommand({ Bucket: params.Bucket, Key: params.Key }));
    text = await response.Body!.transformToString();
  } catch (error) {
    throw new DistributedMapError(
      ITEM_READER_FAILED,
      `cannot read s3://${params.Bucket}/${params.Key}: ${(error as Error).message}`,
    );
  }
  let items: unknown[];
  if (reader.ReaderConfig.InputType === "JSONL") {
    items = text.split("\n").flatMap((line, index) => {
      if (line.trim() === "") return [];
      try {
        return [JSON.parse(line)];
      } catch {
        throw new DistributedMapError(
          ITEM_READER_FAILED,
          `s3://${params.Bucket}/${params.Key} line ${index + 1} is not JSON`,
        );
      }
    });
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new DistributedMapError(ITEM_READER_FAILED, `s3://${params.Bucket}/${params.Key} is not JSON`);
    }
    if (!Array.isArray(parsed))
      throw new DistributedMapError(
        ITEM_READER_FAILED,
        `s3://${params.Bucket}/${params.Key} is not a JSON array`,
      );
    items = parsed;
  }
  const max = reader.ReaderConfig.MaxItems;
  return max !== undefined ? items.slice(0, max) : items;
}

interface Batch {
  input: unknown;
  itemCount: number;
}

/** Greedy batching in item order; the byte limit applies to the child's whole input, never exceeded. */
export function batchItems(
  items: unknown[],
  batcher: { MaxItemsPerBatch?: number; MaxInputBytesPerBatch?: number } | undefined,
  batchInput: unknown,
): Batch[] {
  if (!batcher) return items.map((item) => ({ input: item, itemCount: 1 }));
  const maxItems = batcher.MaxItemsPerBatch ?? Number.POSITIVE_INFINITY;
  // Unset: the state payload limit still applies to every child's input.
  const maxBytes = batcher.MaxInputBytesPerBatch ?? MAX_BATCH_BYTES;
  const size = (batch: unknown[]) =>
    Buffer.byteLength(
      JSON.stringify(batchInput === undefined ? { Items: batch } : { Items: batch, BatchInput: batchInput }),
    );
  const batches: Batch[] = [];
  let current: unknown[] = [];
  let currentBytes = size([]);
  const itemOverhead = (item: unknown, first: boolean) =>
    Buffer.byteLength(JSON.stringify(item)) + (first ? 0 : 1);
  for (const item of items) {
    const added = itemOverhead(item, current.length === 0);
    if (current.length > 0 && (current.length >= maxItems || currentBytes + added > maxBytes)) {
      batches.push({
        input: batchInput === undefined ? { Items: current } : { Items: current, BatchInput: batchInput },
        itemCount: current.length,
      });
      current = [];
      currentBytes = size([]);
    }
    const alone = itemOverhead(item, true);
    if (current.length === 0 && currentBytes + alone > maxBytes) {
      throw new DistributedMapError(
        "States.Runtime",
        `an item of ${alone} bytes does not fit MaxInputBytesPerBatch ${maxBytes}`,
      );
    }
    current.push(item);
    currentBytes += itemOverhead(item, current.length === 1);
  }
  if (current.length > 0)
    batches.push({
      input: batchInput === undefined ? { Items: current } : { Items: current, BatchInput: batchInput },
      itemCount: current.length,
    });
  return batches;
}

/** Runs one Distributed Map state over its effective input; returns the state's result. */
export async function runDistributedMap(
  name: string,
  state: MapState,
  child: StateMachineDefinition,
  input: unknown,
  env: DistributedMapEnv,
): Promise<unknown> {
  const mapRunId = randomUUID();
  const smName = env.stateMachineArn.split(":").pop()!;
  const mapRunArn = `${env.stateMachineArn.replace(":stateMachine:", ":mapRun:")}/${state.Label ?? name}:${mapRunId}`;
  const rawItems = await readItems(state, input, env);
  const items = state.ItemSelector
    ? await Promise.all(
        rawItems.map((value, index) =>
          evaluateTemplate(state.ItemSelector!, input, {
            ...env.context,
            Map: { Item: { Index: index, Value: value } },
          }),
        ),
      )
    : rawItems;
  const batchInput = state.ItemBatcher?.BatchInput
    ? await evaluateTemplate(state.ItemBatcher.BatchInput, input, env.context)
    : undefined;
  const batches = batchItems(items, state.ItemBatcher, batchInput);

  const total = items.length;
  const pct = state.ToleratedFailurePercentage;
  const count = state.ToleratedFailureCount;
  let succeededItems = 0;
  let failedItems = 0;
  let inFlight = 0;
  const exceeded = () => {
    if (pct === undefined && count === undefined) return failedItems > 0;
    if (count !== undefined && failedItems > count) return true;
    return pct !== undefined && failedItems * 100 > pct * total;
  };
  const report = () =>
    env.onProgress?.({
      state: name,
      total_items: total,
      succeeded_items: succeededItems,
      failed_items: failedItems,
      in_flight: inFlight,
    });

  const records: (MapChildResult | undefined)[] = new Array(batches.length);
  const outputs: unknown[] = new Array(batches.length);
  const limit =
    state.MaxConcurrency && state.MaxConcurrency > 0 ? state.MaxConcurrency : LOCAL_UNBOUNDED_CONCURRENCY;
  let next = 0;
  let stop = false;
  report();
  const lane = async () => {
    while (!stop && next < batches.length) {
      const index = next++;
      const batch = batches[index]!;
      const childName = randomUUID();
      const executionArn = `arn:aws:states:${env.stateMachineArn.split(":")[3]}:${env.stateMachineArn.split(":")[4]}:express:${smName}/${mapRunId}:${childName}`;
      const startDate = new Date().toISOString();
      inFlight++;
      report();
      const base = {
        ExecutionArn: executionArn,
        Name: childName,
        Input: JSON.stringify(batch.input),
        InputDetails: { Included: true },
        StartDate: startDate,
        StateMachineArn: env.stateMachineArn,
        RedriveCount: 0,
        RedriveStatus: "NOT_REDRIVABLE",
      };
      try {
        const output = await env.runChild(child, batch.input, {
          Execution: { Id: executionArn, Name: childName },
          StateMachine: env.context.StateMachine,
          State: env.context.State,
        });
        outputs[index] = output;
        records[index] = {
          ...base,
          Output: JSON.stringify(output),
          OutputDetails: { Included: true },
          Status: "SUCCEEDED",
          StopDate: new Date().toISOString(),
        };
        succeededItems += batch.itemCount;
      } catch (error) {
        const cause = ((error as { cause?: unknown }).cause ?? error) as { name?: string; message?: string };
        records[index] = {
          ...base,
          Error: cause.name ?? "Error",
          Cause: cause.message ?? String(cause),
          Status: "FAILED",
          StopDate: new Date().toISOString(),
        };
        failedItems += batch.itemCount;
        if (exceeded()) stop = true;
      } finally {
        inFlight--;
        report();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, batches.length) }, lane));

  let result: unknown = outputs;
  if (state.ResultWriter) {
    const params = (await evaluateTemplate(state.ResultWriter.Parameters, input, env.context)) as {
      Bucket?: string;
      Prefix?: string;
    };
    if (typeof params.Bucket !== "string")
      throw new DistributedMapError(
        RESULT_WRITER_FAILED,
        `ResultWriter Parameters need a Bucket, got ${JSON.stringify(params)}`,
      );
    try {
      result = await writeMapRunResults(env.s3, {
        bucket: params.Bucket,
        prefix: params.Prefix ?? "",
        mapRunArn,
        mapRunId,
        records: records.filter((r): r is MapChildResult => r !== undefined),
      });
    } catch (error) {
      throw new DistributedMapError(
        RESULT_WRITER_FAILED,
        `cannot write results: ${(error as Error).message}`,
      );
    }
  }
  if (exceeded()) {
    const limits =
      [count !== undefined ? `count ${count}` : "", pct !== undefined ? `${pct}%` : ""]
        .filter(Boolean)
        .join(", ") || "none tolerated";
    throw new DistributedMapError(
      TOLERANCE_EXCEEDED,
      `The specified tolerated failure threshold was exceeded: ${failedItems} of ${total} items failed (tolerated: ${limits}); ${mapRunArn}`,
    );
  }
  return result;
}
