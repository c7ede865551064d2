// Lambda entry: the finalizer EtlFleet deploys when a job has none of its own (counts-only.ts).
import { S3Client } from "@aws-sdk/client-s3";
import { finalizerHandler } from "../../etl/handlers.js";
import { countsOnlyJob, JOB_ENV } from "./counts-only.js";

let s3: S3Client | undefined;
export const handler = finalizerHandler(
  countsOnlyJob(process.env[JOB_ENV] ?? "etl"),
  () => (s3 ??= new S3Client({})),
);
