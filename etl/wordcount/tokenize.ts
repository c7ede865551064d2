/** Words of a text: lowercase runs of letters/digits, keeping inner apostrophes ("don't"). */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu) ?? [];
}

/** Adds the words of `text` to `counts`. */
export function countWords(text: string, counts: Record<string, number> = {}): Record<string, number> {
  for (const word of tokenize(text)) counts[word] = (counts[word] ?? 0) + 1;
  return counts;
}

/** Sums word counts (the reduce step). */
export function mergeCounts(parts: Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const part of parts)
    for (const [word, n] of Object.entries(part)) total[word] = (total[word] ?? 0) + n;
  return total;
}
