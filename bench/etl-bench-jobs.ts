// Jobs for bench/etl.bench.ts, in their own module so that worker threads can import and look them up.
import type { EtlItem } from "../etl/contracts.js";
import { defineJob } from "../etl/jobs.js";
import { demoDocument } from "../etl/wordcount/corpus.js";
import { tokenize } from "../etl/wordcount/tokenize.js";

export const NOOP_JOB = "bench-noop";
export const CPU_JOB = "bench-cpu";

/** Items of the no-op job, from the planner input `{ "items": n }`. */
export const noop = defineJob<EtlItem, null>({
  spec: { name: NOOP_JOB },
  plan: async ({ input }) =>
    Array.from({ length: (input as { items: number }).items }, (_, n) => ({ id: `i${n}` })),
  work: async () => null,
  finalize: async (results) => results.length,
});

/** Documents each CPU item counts: enough work (~0.1-0.2 s of one core) to dwarf scheduling. */
export const CPU_DOCUMENTS_PER_ITEM = 400;

/** CPU-bound: each item generates and word-counts CPU_DOCUMENTS_PER_ITEM documents in memory (no I/O). */
export function cpuWork(seed: number): number {
  const counts = new Map<string, number>();
  for (let d = 0; d < CPU_DOCUMENTS_PER_ITEM; d++) {
    for (const word of tokenize(demoDocument(seed * 1000 + d))) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  return counts.size;
}

export const cpu = defineJob<EtlItem & { seed: number }, number>({
  spec: { name: CPU_JOB, batching: { maxItems: 1 } },
  plan: async ({ input }) =>
    Array.from({ length: (input as { items: number }).items }, (_, n) => ({ id: `c${n}`, seed: n })),
  work: async (items) => items.reduce((n, item) => n + cpuWork(item.seed), 0),
  finalize: async (results) => results.reduce((a, b) => a + b, 0),
});
