/**
 * Athena's price for a query (SQL, engine v3, on-demand): $5 per TB scanned, bytes rounded up to the
 * next megabyte, 10 MB minimum per query (aws.amazon.com/athena/pricing). AWS bills storage-style
 * units here: 1 MB = 2^20 bytes, 1 TB = 2^40 bytes.
 */
export const ATHENA_USD_PER_TB = 5;
export const BYTES_PER_MB = 1024 ** 2;
export const BYTES_PER_TB = 1024 ** 4;
/** "10 MB minimum per query" - the smallest query costs as much as a 10 MB scan. */
export const ATHENA_MINIMUM_BILLED_BYTES = 10 * BYTES_PER_MB;

export function athenaBilledBytes(bytesScanned: number): number {
  return Math.max(Math.ceil(bytesScanned / BYTES_PER_MB) * BYTES_PER_MB, ATHENA_MINIMUM_BILLED_BYTES);
}

export function athenaPriceUsd(bytesScanned: number): number {
  return (athenaBilledBytes(bytesScanned) / BYTES_PER_TB) * ATHENA_USD_PER_TB;
}

/** `1.2 MB`, `340 B`: for humans (binary units, like the billing above). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** `$0.000048`: enough digits to see a small query's price. */
export function formatUsd(usd: number): string {
  return `$${usd < 0.01 ? usd.toPrecision(2) : usd.toFixed(4)}`;
}
