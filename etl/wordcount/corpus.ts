/**
 * A deterministic demo corpus, so `observatory etl start wordcount --local` has input on a fresh
 * checkout (the talk transcripts used for testing are not part of the repository). Sentences are
 * drawn from a fixed vocabulary with Zipf-like frequencies, like natural text, by a seeded PRNG
 * (local/seeded-random.ts, the same mulberry32 this file carried before): the same documents every
 * time, and a ground truth anyone can recompute.
 */
import { seededRandom } from "../../local/seeded-random.js";

/** Enough documents for several batches at the default batch size. */
export const DEMO_DOCUMENT_COUNT = 48;
const WORDS_PER_DOCUMENT = 400;

const VOCABULARY = (
  "the of and to a in is that for it as with was on be by this are or from at an but not have " +
  "data metrics logs events pipeline query bucket lambda worker planner finalizer batch item run ledger " +
  "latency throughput error retry backoff jitter correlation trace service stage alarm dashboard cost " +
  "athena parquet partition hour schema table column compaction manifest result tolerance concurrency " +
  "server serverless fleet transient bursty idle instance second minute money team debugging window " +
  "search download user session request response collector conform enrich quarantine archive " +
  "we you they our your their it's don't can't won't observe measure learn ship fix build deploy scale"
).split(" ");

/** Zipf weights 1/rank over the vocabulary, as a cumulative table. */
const CUMULATIVE = (() => {
  const weights = VOCABULARY.map((_, rank) => 1 / (rank + 1));
  const sum = weights.reduce((a, b) => a + b, 0);
  let acc = 0;
  return weights.map((w) => (acc += w / sum));
})();

function pick(random: () => number): string {
  const r = random();
  const index = CUMULATIVE.findIndex((c) => r <= c);
  return VOCABULARY[index === -1 ? VOCABULARY.length - 1 : index]!;
}

/** Document `n` of the demo corpus: sentences of 5-14 words, capitalized, with punctuation. */
export function demoDocument(n: number): string {
  const random = seededRandom(0x5eed + n);
  const sentences: string[] = [];
  let words = 0;
  while (words < WORDS_PER_DOCUMENT) {
    const length = 5 + Math.floor(random() * 10);
    const sentence = Array.from({ length }, () => pick(random));
    sentence[0] = sentence[0]!.charAt(0).toUpperCase() + sentence[0]!.slice(1);
    sentences.push(`${sentence.join(" ")}${random() < 0.2 ? "?" : "."}`);
    words += length;
  }
  return `${sentences.join(" ")}\n`;
}
