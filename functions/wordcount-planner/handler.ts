// Lambda entry: the wordcount demo job's planner (etl/wordcount/job.ts), per the contracts in etl/contracts.ts.
import { S3Client } from "@aws-sdk/client-s3";
import { plannerHandler } from "../../etl/handlers.js";
import { wordcount } from "../../etl/wordcount/job.js";

let s3: S3Client | undefined;
export const handler = plannerHandler(wordcount, () => (s3 ??= new S3Client({})));
