// Lambda entry: the compaction job's planner (lists unconsumed raw/quarantine objects, groups them into chunks).
import { S3Client } from "@aws-sdk/client-s3";
import { plannerHandler } from "../../etl/handlers.js";
import { compaction } from "../../etl/jobs/compaction.js";
import type { EtlJob } from "../../etl/jobs.js";

let s3: S3Client | undefined;
export const handler = plannerHandler(compaction as unknown as EtlJob, () => (s3 ??= new S3Client({})));
