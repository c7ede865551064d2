/**
 * The demo ETL job: word counts over the text objects under a prefix. The planner lists the objects
 * (one item each), workers count the words of a batch of objects, the finalizer sums the counts and
 * writes them to S3. Input: `{ "prefix"?: string }` (default DEFAULT_INPUT_PREFIX).
 *
 * Only the default prefix gets the built-in demo corpus (seedLocal); a prefix the user names must
 * hold their objects, and an empty one fails the planner (NoInputObjects) rather than counting
 * synthetic text as if it were theirs.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { LOCAL_CREDENTIALS } from "../../contracts/local-stack.js";
import { ETL_PREFIX } from "../../contracts/storage-layout.js";
import type { EtlItem, JsonValue } from "../contracts.js";
import { defineJob } from "../jobs.js";
import { DEMO_DOCUMENT_COUNT, demoDocument } from "./corpus.js";
import { mergeCounts, tokenize } from "./tokenize.js";

export const WORDCOUNT_JOB = "wordcount";
export const DEFAULT_INPUT_PREFIX = `${ETL_PREFIX}inputs/wordcount/`;
/** Where the finalizer writes the full counts: `<prefix><run_id>/counts.json`. */
export const OUTPUT_PREFIX = `${ETL_PREFIX}outputs/wordcount/`;
/** How many top words the summary carries (the full counts are in S3). */
const TOP_WORDS = 10;

/**
 * The planner found nothing to count: named, so the run's error says what happened (and it is not a
 * TransientError: retrying an empty prefix cannot help).
 */
export class NoInputObjectsError extends Error {
  override readonly name = "NoInputObjects";
}

export interface WordcountItem extends EtlItem {
  bucket: string;
  key: string;
  size: number;
}
export interface WordcountBatchResult {
  objects: number;
  words: number;
  counts: Record<string, number>;
  [key: string]: JsonValue;
}

function inputPrefix(input: JsonValue): string {
  const prefix = (input as { prefix?: unknown } | null)?.prefix;
  if (prefix === undefined) return DEFAULT_INPUT_PREFIX;
  if (typeof prefix !== "string" || prefix === "")
    throw new Error(`wordcount input "prefix" must be a non-empty string, got ${JSON.stringify(prefix)}`);
  return prefix;
}

/**
 * How to fill the prefix. A client with its own endpoint is a local S3 (s3rver accepts any
 * credentials, but the CLI wants some to sign with); that endpoint is only still up afterwards when
 * it is `observatory dev`'s, hence the pointer to dev. Without one: plain `aws s3 cp` on AWS.
 */
async function noInputMessage(s3: S3Client, bucket: string, prefix: string): Promise<string> {
  const target = `./texts/ s3://${bucket}/${prefix} --recursive`;
  const endpoint = await s3.config.endpoint?.();
  if (!endpoint)
    return `no objects under s3://${bucket}/${prefix}: upload your text files there first, e.g. with the AWS CLI: aws s3 cp ${target}`;
  // Only `etl start --local` seeds the demo corpus (seedLocal), so only a local run can fall back on it.
  const help = `see docs/etl-local-runner.md; omit "prefix" to count the built-in demo corpus under ${DEFAULT_INPUT_PREFIX}`;
  const url = `${endpoint.protocol}//${endpoint.hostname}${endpoint.port ? `:${endpoint.port}` : ""}`;
  const credentials = `AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey}`;
  return (
    `no objects under s3://${bucket}/${prefix}: upload your text files there first, e.g. with the AWS CLI ` +
    `against the local S3 endpoint (the one \`observatory dev\` prints; this run used ${url}): ` +
    `${credentials} aws --endpoint-url ${url} s3 cp ${target} (${help})`
  );
}

async function listKeys(
  s3: S3Client,
  bucket: string,
  prefix: string,
): Promise<{ key: string; size: number }[]> {
  const keys: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? [])
      if (o.Key && !o.Key.endsWith("/")) keys.push({ key: o.Key, size: o.Size ?? 0 });
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

export const wordcount = defineJob<WordcountItem, WordcountBatchResult>({
  description: "Word counts over the text objects under a prefix (demo job)",
  spec: { name: WORDCOUNT_JOB, concurrency: 4, batching: { maxItems: 8 }, toleratedFailurePercentage: 5 },

  async plan({ s3, bucket, input }) {
    const prefix = inputPrefix(input);
    const keys = await listKeys(s3, bucket, prefix);
    if (keys.length === 0) throw new NoInputObjectsError(await noInputMessage(s3, bucket, prefix));
    return keys.map(({ key, size }) => ({ id: key, bucket, key, size }));
  },

  async work(items, { s3 }) {
    const counts: Record<string, number> = {};
    let words = 0;
    for (const item of items) {
      const response = await s3.send(new GetObjectCommand({ Bucket: item.bucket, Key: item.key }));
      const tokens = tokenize(await response.Body!.transformToString());
      for (const word of tokens) counts[word] = (counts[word] ?? 0) + 1;
      words += tokens.length;
    }
    return { objects: items.length, words, counts };
  },

  async finalize(results, { s3, bucket, run_id, input }) {
    const counts = mergeCounts(results.map((r) => r.counts));
    const key = `${OUTPUT_PREFIX}${run_id}/counts.json`;
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: JSON.stringify(counts),
        ContentType: "application/json",
      }),
    );
    const top = Object.entries(counts)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, TOP_WORDS)
      .map(([word, count]) => ({ word, count }));
    return {
      // Which objects were counted, so a summary never leaves that to guesswork.
      input: `s3://${bucket}/${inputPrefix(input)}`,
      objects: results.reduce((n, r) => n + r.objects, 0),
      words: results.reduce((n, r) => n + r.words, 0),
      distinct_words: Object.keys(counts).length,
      counts_location: `s3://${bucket}/${key}`,
      top,
    };
  },

  // Only the default demo prefix: seeding a prefix the user named would pass synthetic text off as theirs.
  async seedLocal(s3, bucket, input) {
    const prefix = inputPrefix(input);
    if (prefix !== DEFAULT_INPUT_PREFIX) return;
    if ((await listKeys(s3, bucket, prefix)).length > 0) return;
    for (let n = 0; n < DEMO_DOCUMENT_COUNT; n++) {
      const key = `${prefix}doc-${String(n).padStart(3, "0")}.txt`;
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: demoDocument(n), ContentType: "text/plain" }),
      );
    }
  },
});
