import { TRANSIENT_ERROR_NAME } from "./job-spec.js";

/**
 * Throw this from a worker for a failure worth retrying (a throttled API, a timeout talking to a
 * peer). The generated Map retries it with the job's backoff and jitter, as it does Lambda throttles;
 * any other error fails the batch at once (and counts against the tolerated failures).
 * Lambda reports `errorType` = the error's name, which is what ASL `ErrorEquals` matches.
 */
export class TransientError extends Error {
  override readonly name = TRANSIENT_ERROR_NAME;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
