import { TransientError } from "../../etl/transient-error.js";

/** S3 answers worth retrying: throttling, 5xx, and the network failing under us. */
const TRANSIENT_NAMES = new Set([
  "SlowDown",
  "ThrottlingException",
  "RequestTimeout",
  "InternalError",
  "ServiceUnavailable",
  "TimeoutError",
]);
const TRANSIENT_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"]);

/**
 * Runs `work`, rethrowing S3 throttling, 5xx and network errors as TransientError so the Map retries
 * the chunk with backoff; anything else (bad data, a bug) fails the chunk at once. A retried chunk
 * redoes its work and overwrites its own staged files (deterministic keys).
 */
export async function withTransientS3Errors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isTransient(error))
      throw new TransientError(`transient S3 failure: ${(error as Error).message}`, { cause: error });
    throw error;
  }
}

export function isTransient(error: unknown): boolean {
  const e = error as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
  };
  if (e?.name && TRANSIENT_NAMES.has(e.name)) return true;
  if (e?.code && TRANSIENT_CODES.has(e.code)) return true;
  if (e?.$retryable) return true;
  const status = e?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}
