// Lambda entry: the compaction job's worker (one chunk of raw objects -> staged ZSTD Parquet, with DuckDB
// from the layer described in docs/compaction.md).
import { S3Client } from "@aws-sdk/client-s3";
import { workerHandler } from "../../etl/handlers.js";
import { compaction } from "../../etl/jobs/compaction.js";
import type { EtlJob } from "../../etl/jobs.js";

let s3: S3Client | undefined;
export const handler = workerHandler(compaction as unknown as EtlJob, () => (s3 ??= new S3Client({})));
