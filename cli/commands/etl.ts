/**
 * `observatory etl`: start <job> (--local on this machine, otherwise on AWS), status <execution ARN>,
 * definition <job> (the ASL the EtlFleet component deploys), runs <job> --local (the local ledger).
 * The local branch lives in etl-local.ts, the AWS branch in etl-aws.ts.
 */
import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { LOCAL_BUCKET } from "../../contracts/local-stack.js";
import { buildEtlDefinition, placeholderRefs } from "../../etl/definition.js";
import { getJob, listJobs } from "../../etl/job-catalog.js";
import { dataDirOption, dynamodbEndpointOption, s3EndpointOption } from "../../local/stack-connection.js";
import { localRefs } from "../../local/step-functions/local-etl.js";
import { formatOption, type OutputFormat } from "../format.js";
import { etlRunsOnAws, etlStartOnAws, etlStatusOnAws } from "./etl-aws.js";
import { etlRunsLocal, etlStartLocal } from "./etl-local.js";

function threadCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--threads must be a non-negative integer, got ${value}`);
  return n;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got ${value}`);
  return n;
}

function jobNames(): string {
  return listJobs()
    .map((j) => j.spec.name)
    .join(", ");
}

export function registerEtlCommand(program: Command): void {
  const etl = program
    .command("etl")
    .description(
      `run ETL jobs (a planner, a fleet of workers under a Step Functions Map, a finalizer). Jobs: ${jobNames()}`,
    );

  etl
    .command("start")
    .description("start a run of a job: on this machine with --local, otherwise its deployed state machine")
    .argument("<job>", `job name (${jobNames()}), or a state machine ARN on AWS`)
    .option(
      "--local",
      "run on this machine: the same ASL with aws-local-stepfunctions, S3 on s3rver, ledger on dynalite",
    )
    .option("--input <json>", "the planner's input (JSON)")
    .option(
      "--run-id <id>",
      "the run's id in the ledger; re-using a failed run's id resumes it, a succeeded one is not redone",
    )
    .option(
      "--wait",
      "wait for the execution to finish and print its summary (always so with --local: it runs in this process)",
    )
    .option("--name <name>", "AWS: execution name")
    .option("--state-machine-arn <arn>", "AWS: the job's state machine (default: from the environment)")
    .option("--region <region>", "AWS: region (default: the ARN's, else AWS_REGION or the profile's)")
    .addOption(dataDirOption())
    .addOption(s3EndpointOption())
    .addOption(dynamodbEndpointOption())
    .option(
      "--threads <n>",
      `local: run the workers in n worker threads, like a Lambda fleet (worth it for CPU-bound workers; this machine has ${availableParallelism()} cores). 0: in this process, best for I/O-bound jobs (a thread takes ~1-2 s to start)`,
      threadCount,
      0,
    )
    .addOption(formatOption())
    .action(
      async (
        job: string,
        options: {
          local?: boolean;
          input?: string;
          runId?: string;
          wait?: boolean;
          name?: string;
          stateMachineArn?: string;
          region?: string;
          dataDir?: string;
          s3Endpoint?: string;
          dynamodbEndpoint?: string;
          threads: number;
          format: OutputFormat;
        },
      ) => {
        process.exitCode = options.local
          ? await etlStartLocal(job, {
              input: options.input,
              runId: options.runId,
              format: options.format,
              dataDir: options.dataDir,
              s3Endpoint: options.s3Endpoint,
              dynamodbEndpoint: options.dynamodbEndpoint,
              threads: options.threads,
            })
          : await etlStartOnAws(job, {
              input: options.input,
              runId: options.runId,
              wait: options.wait,
              name: options.name,
              stateMachineArn: options.stateMachineArn,
              region: options.region,
              format: options.format,
            });
      },
    );

  etl
    .command("status")
    .description(
      "status and item counts of an execution on AWS (given a job or state machine: its latest execution)",
    )
    .argument("<execution>", "execution ARN, or a job name / state machine ARN for its most recent execution")
    .option(
      "--state-machine-arn <arn>",
      "the job's state machine (default: OBSERVATORY_<JOB>_STATE_MACHINE_ARN)",
    )
    .option("--wait", "follow the execution until it ends, with progress (exit 0 only when it SUCCEEDED)")
    .option("--region <region>", "AWS: region (default: the ARN's, else AWS_REGION or the profile's)")
    .addOption(formatOption())
    .action(
      async (
        execution: string,
        options: { format: OutputFormat; stateMachineArn?: string; wait?: boolean; region?: string },
      ) => {
        process.exitCode = await etlStatusOnAws(execution, {
          format: options.format,
          stateMachineArn: options.stateMachineArn,
          wait: options.wait,
          region: options.region,
        });
      },
    );

  etl
    .command("definition")
    .description(
      "print the ASL definition of a job (the JSON its state machine gets; open it in Workflow Studio)",
    )
    .argument("<job>", `job name (${jobNames()})`)
    .option("--local", "with the references the local runner uses instead of PLACEHOLDER ARNs")
    .option("--iam", "print the IAM statements the definition's states need instead")
    .action((job: string, options: { local?: boolean; iam?: boolean }) => {
      const spec = getJob(job).spec;
      const refs = options.local ? localRefs(spec.name, LOCAL_BUCKET) : placeholderRefs(spec.name);
      const built = buildEtlDefinition(spec, refs);
      if (!options.local)
        process.stderr.write("note: no stack given; ARNs, bucket and table names are PLACEHOLDERs\n");
      console.log(JSON.stringify(options.iam ? built.iam : built.definition, null, 2));
    });

  etl
    .command("runs")
    .description("recent runs of a job from its ledger (status, item counts, where failed items are)")
    .argument("<job>", `job name (${jobNames()})`)
    .option("--local", "read the local ledger (default: the job's DynamoDB ledger on AWS)")
    .option("--ledger-table <name>", "AWS: the job's ledger table (default: OBSERVATORY_<JOB>_LEDGER_TABLE)")
    .option("--region <region>", "AWS: region of the ledger table (default: AWS_REGION or the profile's)")
    .option("--limit <n>", "how many runs", positiveInteger, 20)
    .addOption(dataDirOption())
    .addOption(s3EndpointOption())
    .addOption(dynamodbEndpointOption())
    .addOption(formatOption())
    .action(
      async (
        job: string,
        options: {
          local?: boolean;
          limit: number;
          dataDir?: string;
          s3Endpoint?: string;
          dynamodbEndpoint?: string;
          ledgerTable?: string;
          region?: string;
          format: OutputFormat;
        },
      ) => {
        process.exitCode = options.local
          ? await etlRunsLocal(job, {
              format: options.format,
              dataDir: options.dataDir,
              s3Endpoint: options.s3Endpoint,
              dynamodbEndpoint: options.dynamodbEndpoint,
              limit: options.limit,
            })
          : await etlRunsOnAws(job, {
              format: options.format,
              ledgerTable: options.ledgerTable,
              limit: options.limit,
              region: options.region,
            });
      },
    );
}
