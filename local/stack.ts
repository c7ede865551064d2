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
import { createCollector } from "../functions/collector/collector.js";
import { nullStream, RoutedLogStream } from "../runtime/log-output.js";
import { createLogger } from "../runtime/logger.js";
import { type HttpLambda, type HttpLambdaHandler, startHttpLambda } from "./api-gateway.js";
import { type LocalDynamoDB, startLocalDynamoDB } from "./dynamodb-server.js";
import { type DeclaredSchemas, declareStackSchemas } from "./event-schemas.js";
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
}

/** The running core that extras build on. */
export interface LocalStackCore {
  dataDir: string;
  apiKey: string;
  bucket: string;
  s3: LocalS3;
  dynamodb: LocalDynamoDB;
  collector: HttpLambda;
  /** The event schemas the collector enforces and compaction on this data directory uses. */
  schemas: DeclaredSchemas;
  /** Prints unless the stack is quiet. */
  log(message: string): void;
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

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = options.dataDir ?? LOCAL_DATA_DIR;
  const apiKey = options.apiKey ?? LOCAL_API_KEY;
  const log = (message: string) => {
    if (!options.quiet) console.log(message);
  };
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

    // The collector logs as on AWS (runtime/logger.ts, one line per request). Its lines reach an
    // extra that captures them (H5's local log archive, through wrapCollector); otherwise they are
    // dropped, except errors, which the console shows.
    const collectorLogger = createLogger({
      service: "observatory-collector",
      stage: "local",
      destination: new RoutedLogStream(nullStream()),
    });
    let collectorHandler: HttpLambdaHandler = createCollector({
      s3: s3.client,
      bucket: s3.bucket,
      apiKeys: [apiKey],
      schemas: schemas.schemas,
      service: "local",
      stage: "local",
      logger: {
        info: (message, extra) => collectorLogger.info(message, extra),
        error: (message, extra) => {
          collectorLogger.error(message, extra);
          log(`collector: ${message} ${JSON.stringify(extra ?? {})}`);
        },
      },
    }).handler as HttpLambdaHandler;
    const collectorPort = options.collectorPort ?? LOCAL_COLLECTOR_PORT;
    const collector = await listening("collector", collectorPort, "--port", () =>
      startHttpLambda({
        port: collectorPort,
        functionName: "observatory-collector",
        handler: (event: APIGatewayProxyEventV2, context: Context) => collectorHandler(event, context),
        onError: (error) => log(`collector crashed: ${(error as Error).stack ?? String(error)}`),
      }),
    );
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
      wrapCollector: (wrap) => {
        collectorHandler = wrap(collectorHandler);
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
    return { ...core, extras, close: () => (closed ??= closeAll()) };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
