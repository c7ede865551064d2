/** What a query returns, whichever engine ran it (local DuckDB or Athena). */
export interface QueryColumn {
  name: string;
  /** The engine's type name (DuckDB `BIGINT`, Athena `bigint` ...). */
  type: string;
}

export interface QueryResult {
  engine: "local" | "athena";
  columns: QueryColumn[];
  rows: Record<string, unknown>[];
  /** Bytes the engine read to answer (Athena's DataScannedInBytes; the local estimate from Parquet metadata). */
  bytesScanned?: number;
  /** Athena price of those bytes, USD. */
  priceUsd?: number;
  queryExecutionId?: string;
}

/**
 * Integers that fit a JS number become numbers (counts and sums are what people query), larger ones
 * stay exact as decimal strings, so JSON output never loses digits.
 */
export function plainInteger(value: bigint): number | string {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}
