// Lambda entry: the compaction job's finalizer (merges touched partitions, commits the consumed objects).
import { S3Client } from "@aws-sdk/client-s3";
import { finalizerHandler } from "../../etl/handlers.js";
import { compaction } from "../../etl/jobs/compaction.js";
import type { EtlJob } from "../../etl/jobs.js";

let s3: S3Client | undefined;
export const handler = finalizerHandler(compaction as unknown as EtlJob, () => (s3 ??= new S3Client({})));
