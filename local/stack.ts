import { AsyncLocalStorage } from "node:async_hooks";
import { createServer } from "node:net";
import { join } from "node:path";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import type { EventSchema } from "../contracts/event-schema.js";
import {
  LOCAL_API_KEY,
  LOCAL_BUCKET,
  LOCAL_COLLECTOR_PORT,
  LOCAL_DATA_DIR,
  LOCAL_DYNAMODB_PORT,
  LOCAL_S3_PORT,
} from "../contracts/local-stack.js";
import { activeLogCapture } from "../runtime/log-output.js";
import {
  type HttpLambda,
  type HttpLambdaHandler,
  INTEGRATION_TIMEOUT_MS,
  lambdaContext,
  startHttpLambda,
} from "./api-gateway.js";
import type { InvocationRecord } from "./collector-worker-protocol.js";
import { checkWorkerCount, startCollectorWorkers } from "./collector-workers.js";
import { type LocalDynamoDB, startLocalDynamoDB } from "./dynamodb-server.js";
import { type DeclaredSchemas, declareStackSchemas } from "./event-schemas.js";
import { createLocalCollectorHandler, LOCAL_COLLECTOR_FUNCTION } from "./local-collector.js";
import { type LocalS3, startLocalS3 } from "./s3-server.js";
import { removeStackFile, writeStackFile } from "./stack-file.js";

/**
 * The whole pipeline on one machine: s3rver, dynalite and the collector behind a local API Gateway.
 * The core starts first; then each "extra" (compaction schedule, log consumer, ...) gets the running
 * core and returns its own handle. Everything is closed in reverse order.
 */

export interface LocalStackOptions {
  /** Where S3 objects (`<dataDir>/s3`) and DynamoDB tables (`<dataDir>/dynamodb`) persist. */
  dataDir?: string;
  /** Port 0 picks a free port (tests). */
  s3Port?: number;
  collectorPort?: number;
  dynamoPort?: number;
  apiKey?: string;
  /** Declared event schemas (tests); else `schemasFile`, else OBSERVATORY_EVENT_SCHEMAS, else the demo's (local/event-schemas.ts). */
  schemas?: readonly EventSchema[];
  /** `observatory dev --schemas <file.json>`: a JSON array of EventSchema. */
  schemasFile?: string;
  quiet?: boolean;
  /** Started after the core, in order; see LocalStackExtra. */
  extras?: readonly LocalStackExtra[];
  /**
   * Leave `<dataDir>/stack.json` (local/stack-file.ts) while running, so other commands find this
   * stack through --data-dir whatever its ports (default true).
   */
  discoveryFile?: boolean;
  /**
   * Collector worker processes behind the collector port (local/collector-workers.ts); 0 (default)
   * serves the collector in this process.
   */
  workers?: number;
}

/** The running core that extras build on. */
export interface LocalStackCore {
  dataDir: string;
  apiKey: string;
  bucket: string;
  s3: LocalS3;
  dynamodb: LocalDynamoDB;
  collector: HttpLambda & {
    /** The collector worker processes' ids; empty when the collector runs in this process. */
    workerPids(): number[];
  };
  /** The event schemas the collector enforces and compaction on this data directory uses. */
  schemas: DeclaredSchemas;
  /** Prints unless the stack is quiet. */
  log(message: string): void;
  /** Errors and crashes: printed on stderr even when the stack is quiet. */
  warn(message: string): void;
  /**
   * Wraps the collector's Lambda handler for the requests that follow, e.g. to run it "as a Lambda"
   * whose log lines go to the local log archive: `core.wrapCollector((h) => asLocalLambda(delivery, {...}, h))`.
   */
  wrapCollector(wrap: (handler: HttpLambdaHandler) => HttpLambdaHandler): void;
}

/** Something started with the stack (H7's compaction schedule, H5's log consumer, ...). */
export interface LocalStackExtra {
  name: string;
  start(core: LocalStackCore): Promise<LocalStackExtraHandle>;
}

export interface LocalStackExtraHandle {
  /** Lines `observatory dev` prints under the endpoints, e.g. "compaction: every 60s". */
  describe?: string[];
  close(): Promise<void>;
}

export interface LocalStack extends LocalStackCore {
  extras: { name: string; handle: LocalStackExtraHandle }[];
  /**
   * Settles (with the reason) if the stack can no longer serve: its collector workers kept crashing
   * until none was left (local/collector-workers.ts). Never settles with the in-process collector.
   * `observatory dev` then stops with that error.
   */
  failed: Promise<Error>;
  close(): Promise<void>;
}

/** Turns EADDRINUSE into an error that says which server and what to do. */
async function listening<T>(what: string, port: number, flag: string, start: () => Promise<T>): Promise<T> {
  try {
    // s3rver does not report a taken port (its server emits an unhandled 'error' that ends the
    // process), so every fixed port is probed first.
    if (port !== 0) await probePort(port);
    return await start();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new Error(
        `port ${port} is already in use (${what}); stop what holds it or choose another with ${flag}`,
      );
    }
    throw error;
  }
}

/** Rejects with EADDRINUSE when something listens on 127.0.0.1:`port`. */
function probePort(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

/** The worker invocation being replayed through the wrapper chain (multi-worker stacks). */
const replays = new AsyncLocalStorage<InvocationRecord>();

/**
 * The innermost handler of a multi-worker stack's wrapper chain: the invocation already ran in a
 * worker; its log lines are written into whatever capture the wrappers set up, and its result (or
 * error) is returned as if it had run here. Wrappers cannot change the response (it has been sent).
 */
const replayInvocation: HttpLambdaHandler = async () => {
  const record = replays.getStore();
  if (!record) throw new Error("a multi-worker collector runs in its workers, not in this process");
  const capture = activeLogCapture();
  if (capture) for (const line of record.lines) capture(line);
  if (record.error !== undefined) throw new Error(record.error);
  return record.result!;
};

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = options.dataDir ?? LOCAL_DATA_DIR;
  const apiKey = options.apiKey ?? LOCAL_API_KEY;
  const log = (message: string) => {
    if (!options.quiet) console.log(message);
  };
  // --quiet drops the banner and notes, never a crash or an error.
  const warn = (message: string) => console.error(message);
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    // Reverse order: extras first, the collector before the storage it writes to.
    for (const close of closers.reverse()) await close().catch(() => {});
  };
  try {
    // First: a bad schemas file stops the stack before anything listens.
    const schemas = await declareStackSchemas(dataDir, {
      schemas: options.schemas,
      file: options.schemasFile,
    });
    const s3Port = options.s3Port ?? LOCAL_S3_PORT;
    const s3 = await listening("S3", s3Port, "--s3-port", () =>
      startLocalS3({ directory: join(dataDir, "s3"), port: s3Port, bucket: LOCAL_BUCKET }),
    );
    closers.push(() => s3.close());
    const dynamoPort = options.dynamoPort ?? LOCAL_DYNAMODB_PORT;
    const dynamodb = await listening("DynamoDB", dynamoPort, "--dynamodb-port", () =>
      startLocalDynamoDB({ directory: join(dataDir, "dynamodb"), port: dynamoPort }),
    );
    closers.push(() => dynamodb.close());

    const collectorPort = options.collectorPort ?? LOCAL_COLLECTOR_PORT;
    const workers = checkWorkerCount(options.workers ?? 0);
    const baseHandler: HttpLambdaHandler =
      workers === 0
        ? createLocalCollectorHandler({
            s3: s3.client,
            bucket: s3.bucket,
            apiKey,
            schemas: schemas.schemas,
            log: warn,
          })
        : replayInvocation;
    let collectorHandler = baseHandler;
    let collector: LocalStackCore["collector"];
    let setCapture = (_on: boolean) => {};
    let failed = new Promise<Error>(() => {});
    if (workers === 0) {
      const served = await listening("collector", collectorPort, "--port", () =>
        startHttpLambda({
          port: collectorPort,
          functionName: LOCAL_COLLECTOR_FUNCTION,
          handler: (event: APIGatewayProxyEventV2, context: Context) => collectorHandler(event, context),
          onError: (error) => warn(`collector crashed: ${(error as Error).stack ?? String(error)}`),
        }),
      );
      collector = { ...served, workerPids: () => [] };
    } else {
      // Each worker runs the collector; its invocations come back here (while wrappers are on) and
      // go through the wrapper chain, so that extras see every invocation's log lines as before.
      const pool = await listening("collector", collectorPort, "--port", () =>
        startCollectorWorkers({
          workers,
          port: collectorPort,
          config: {
            s3Endpoint: s3.endpoint,
            bucket: s3.bucket,
            apiKey,
            schemas: [...schemas.schemas],
          },
          onInvocation: (record) => {
            const context = lambdaContext(
              LOCAL_COLLECTOR_FUNCTION,
              record.requestId,
              Date.now(),
              INTEGRATION_TIMEOUT_MS,
            );
            // The worker has already reported an error of its own; a wrapper's is shown here.
            replays
              .run(record, async () => collectorHandler(record.event, context))
              .catch((error: unknown) => {
                if ((error as Error).message !== record.error) warn(`collector wrapper: ${String(error)}`);
              });
          },
          warn,
        }),
      );
      setCapture = pool.setCapture;
      failed = pool.failed;
      collector = { url: pool.url, port: pool.port, close: pool.close, workerPids: pool.pids };
    }
    closers.push(() => collector.close());

    const core: LocalStackCore = {
      dataDir,
      apiKey,
      bucket: s3.bucket,
      s3,
      dynamodb,
      collector,
      schemas,
      log,
      warn,
      wrapCollector: (wrap) => {
        collectorHandler = wrap(collectorHandler);
        setCapture(true);
      },
    };
    const extras: LocalStack["extras"] = [];
    for (const extra of options.extras ?? []) {
      const handle = await extra.start(core);
      closers.push(() => handle.close());
      extras.push({ name: extra.name, handle });
    }
    if (options.discoveryFile !== false) {
      const written = await writeStackFile({
        dataDir,
        collector: collector.url,
        s3: s3.endpoint,
        dynamodb: dynamodb.endpoint,
        bucket: s3.bucket,
        apiKey,
      });
      // First to go on close: from then on the stack is no longer to be found.
      closers.push(() => removeStackFile(dataDir, written));
    }
    let closed: Promise<void> | undefined;
    return { ...core, extras, failed, close: () => (closed ??= closeAll()) };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
