/**
 * Child process of test/etl-local-interrupt.test.ts: starts a local run of the wordcount job whose
 * workers never finish (prints WORKING when one starts), so the test can interrupt it with a signal.
 * Arguments: <s3 endpoint> <dynamodb endpoint> <bucket> <run id>.
 */
import { getJob } from "../../etl/job-catalog.js";
import { localDynamoDBClient } from "../../local/dynamodb-server.js";
import { localS3Client } from "../../local/s3-server.js";
import { runLocalJob } from "../../local/step-functions/local-etl.js";

const [s3Endpoint, dynamoEndpoint, bucket, runId] = process.argv.slice(2) as [string, string, string, string];
const job = getJob("wordcount");
if (!job) throw new Error("wordcount job not registered");
let announced = false;
await runLocalJob({
  job,
  s3: localS3Client(s3Endpoint),
  bucket,
  dynamodb: localDynamoDBClient(dynamoEndpoint),
  runId,
  seed: true,
  wrap: {
    worker: () => () => {
      if (!announced) process.stdout.write("WORKING\n");
      announced = true;
      // A worker that is still busy when Ctrl-C comes (the timer keeps the process alive).
      return new Promise(() => setInterval(() => {}, 1000));
    },
  },
});
process.stdout.write("FINISHED\n");
