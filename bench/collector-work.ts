// The work callgrind counts for callgrind-collector.bench.ts, run as its own (bundled) process:
//   node collector-work.mjs collector|baseline|none BATCHES [per-event|batch]
// Every mode builds the same inputs and warms BOTH paths alike, then runs BATCHES batches of one of
// them (none: nothing), so "mode minus none" is the steady-state work of those batches.
import { gzipSync } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { createCollector } from "../functions/collector/collector.js";
import { RAW_GZIP_LEVEL } from "../functions/collector/limits.js";
import {
  BATCH_EVENTS,
  batchBodies,
  CONTEXT_SHAPES,
  type ContextShape,
  httpApiEvent,
  inProcessSinkClient,
} from "./collector-batches.js";

/** Batches of each path before counting starts: enough for V8 to optimize both. */
const WARMUP_BATCHES = 24;

const [mode = "", count = "", shape = "per-event"] = process.argv.slice(2);
const batches = Number(count);
if (
  !["collector", "baseline", "none"].includes(mode) ||
  !Number.isInteger(batches) ||
  batches < 1 ||
  !CONTEXT_SHAPES.some((known) => known.shape === shape)
) {
  console.error("usage: collector-work collector|baseline|none BATCHES [per-event|batch]");
  process.exit(2);
}

const bodies = batchBodies(shape as ContextShape);
const { client } = inProcessSinkClient();
const collector = createCollector({
  s3: client,
  bucket: "bench-bucket",
  apiKeys: ["bench-key"],
  schemas: DEMO_EVENT_SCHEMAS,
  service: "bench",
  stage: "bench",
});
let seq = 0;
async function viaCollector(body: string): Promise<void> {
  const result = await collector.handler(httpApiEvent(body, seq++));
  if (result.statusCode !== 200 || !result.body.startsWith(`{"accepted":${BATCH_EVENTS},`))
    throw new Error(`collector answered ${result.statusCode} ${result.body.slice(0, 300)}`);
}
async function baseline(body: string): Promise<void> {
  JSON.parse(body);
  const gz = gzipSync(body, { level: RAW_GZIP_LEVEL });
  await client.send(new PutObjectCommand({ Bucket: "bench-bucket", Key: `baseline/${seq++}`, Body: gz }));
}

for (let i = 0; i < WARMUP_BATCHES; i++) {
  await viaCollector(bodies[i % bodies.length]!);
  await baseline(bodies[i % bodies.length]!);
}
const run = mode === "collector" ? viaCollector : mode === "baseline" ? baseline : undefined;
if (run) for (let i = 0; i < batches; i++) await run(bodies[i % bodies.length]!);
