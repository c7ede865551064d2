/**
 * Runs a registered ETL job on this machine: the definition buildEtlDefinition generates for it,
 * with its planner/worker/finalizer handlers bound in-process, S3 on s3rver and the ledger on dynalite.
 */
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { ETL_PREFIX } from "../../contracts/storage-layout.js";
import type { EtlExecutionInput, JsonValue } from "../../etl/contracts.js";
import { buildEtlDefinition, type EtlDefinition, type EtlRefs } from "../../etl/definition.js";
import { finalizerHandler, plannerHandler, workerHandler } from "../../etl/handlers.js";
import type { EtlJob } from "../../etl/jobs.js";
import { ensureLedgerTable, getRun, type LedgerRun } from "../../etl/ledger.js";
import type { MapProgress } from "./distributed-map.js";
import type { EtlWorkerSetup } from "./etl-worker-setup.js";
import { INTERRUPTED_ERROR, markRunInterrupted, whileInterruptible } from "./interrupt.js";
import { type LocalResource, type LocalRunResult, runLocalExecution } from "./runner.js";
import { dynamoDBIntegrations } from "./service-integrations.js";
import { createWorkerPool, type WorkerPool } from "./worker-pool.js";

export const LOCAL_LEDGER_TABLE = "observatory-etl-ledger";
const LOCAL_ACCOUNT = "000000000000";
const LOCAL_REGION = "us-east-1";

/** The references a local run uses: local-looking ARNs (bound in-process), the local bucket and table. */
export function localRefs(job: string, bucket: string, ledgerTable = LOCAL_LEDGER_TABLE): EtlRefs {
  const fn = (role: string) =>
    `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:observatory-local-${job}-${role}`;
  return {
    plannerArn: fn("planner"),
    workerArn: fn("worker"),
    finalizerArn: fn("finalizer"),
    bucket,
    manifestPrefix: `${ETL_PREFIX}manifests/`,
    resultsPrefix: `${ETL_PREFIX}results/`,
    ledgerTable,
    ledgerTableArn: `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${ledgerTable}`,
  };
}

export interface LocalJobOptions {
  job: EtlJob;
  s3: S3Client;
  bucket: string;
  dynamodb: DynamoDBClient;
  ledgerTable?: string;
  input?: JsonValue;
  runId?: string;
  /** Seed the job's demo input when missing (the CLI does; tests bring their own data). */
  seed?: boolean;
  onMapProgress?: (progress: MapProgress) => void;
  retryIntervalOverrides?: Record<string, number | number[]>;
  /**
   * Run the worker handler in this many worker threads (a local "fleet": CPU-bound workers use
   * several cores). 0 or absent: in this process. Needs s3Endpoint, and the job registered in the
   * catalog or in one of jobModules (each thread looks it up by name).
   */
  workerThreads?: number;
  /** An already started pool (kept warm across runs, as a benchmark does); its creator closes it. */
  workerPool?: WorkerPool;
  s3Endpoint?: string;
  jobModules?: string[];
  /** Replace a role's handler (tests inject failures or count invocations around the real one). */
  wrap?: Partial<Record<"planner" | "worker" | "finalizer", (handler: LocalResource) => LocalResource>>;
}

export interface LocalJobResult {
  runId: string;
  result: LocalRunResult;
  ledger: LedgerRun | undefined;
  etl: EtlDefinition;
}

/** A run id that sorts by start time and is unique: `2026-11-22T15-40-00Z-1a2b3c4d`. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().slice(0, 19).replaceAll(":", "-")}Z-${randomUUID().slice(0, 8)}`;
}

/** A pool of worker threads running a job's worker handler (see worker-pool.ts). */
export function createEtlWorkerPool(setup: EtlWorkerSetup, size: number): WorkerPool {
  return createWorkerPool({
    setupModule: new URL("./etl-worker-setup.ts", import.meta.url),
    options: setup,
    size,
  });
}

export async function runLocalJob(o: LocalJobOptions): Promise<LocalJobResult> {
  const name = o.job.spec.name;
  const ledgerTable = o.ledgerTable ?? LOCAL_LEDGER_TABLE;
  const refs = localRefs(name, o.bucket, ledgerTable);
  const etl = buildEtlDefinition(o.job.spec, refs);
  await ensureLedgerTable(o.dynamodb, ledgerTable);
  const input = o.input ?? {};
  if (o.seed && o.job.seedLocal) await o.job.seedLocal(o.s3, o.bucket, input);
  const s3 = () => o.s3;
  const wrap = (role: "planner" | "worker" | "finalizer", handler: LocalResource) =>
    o.wrap?.[role]?.(handler) ?? handler;
  let pool: WorkerPool | undefined = o.workerPool;
  const ownPool = !pool && (o.workerThreads ?? 0) > 0;
  if (ownPool) {
    if (!o.s3Endpoint)
      throw new Error("workerThreads needs s3Endpoint (each thread makes its own S3 client)");
    const setup: EtlWorkerSetup = { job: name, s3Endpoint: o.s3Endpoint, jobModules: o.jobModules };
    pool = createEtlWorkerPool(setup, o.workerThreads!);
  }
  const worker: LocalResource = pool
    ? (input) => pool.invoke(input)
    : (workerHandler(o.job, s3) as LocalResource);
  const resources: Record<string, LocalResource> = {
    [refs.plannerArn]: wrap("planner", plannerHandler(o.job, s3) as LocalResource),
    [refs.workerArn]: wrap("worker", worker),
    [refs.finalizerArn]: wrap("finalizer", finalizerHandler(o.job, s3) as LocalResource),
    ...dynamoDBIntegrations(o.dynamodb),
  };
  const runId = o.runId ?? newRunId();
  const executionInput: EtlExecutionInput = { run_id: runId, input };
  // Execution names are unique per state machine; a re-run of the same run id is a new execution.
  const executionName = `${runId}-${randomUUID().slice(0, 8)}`;
  // Ctrl-C: the ledger says FAILED (Interrupted), not RUNNING forever; the same run id resumes it.
  const onInterrupt = async (signal: NodeJS.Signals) => {
    const run = { table: ledgerTable, job: name, runId, executionName, signal };
    if (await markRunInterrupted(o.dynamodb, run))
      process.stderr.write(
        `\n${signal}: run ${runId} recorded as FAILED (${INTERRUPTED_ERROR}); resume it with --run-id ${runId}\n`,
      );
  };
  const result = await whileInterruptible(
    () =>
      runLocalExecution({
        definition: etl.definition,
        input: executionInput,
        stateMachineArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:observatory-local-${name}`,
        executionName,
        resources,
        s3: o.s3,
        retryIntervalOverrides: o.retryIntervalOverrides,
        onMapProgress: o.onMapProgress,
      }),
    onInterrupt,
  ).finally(() => (ownPool ? pool?.close() : undefined));
  const ledger = await getRun(o.dynamodb, ledgerTable, name, runId);
  return { runId, result, ledger, etl };
}
