// Collector throughput: events/s through the collector handler for 500-event batches, in process,
// against a baseline of JSON.parse + gzip + PutObject of the same body bytes, measured in the same run.
// Both write through the same S3 client to the same sink:
//   1. an in-process sink (the SDK's real PutObject path, request answered in memory): CPU cost only;
//   2. s3rver on 127.0.0.1 (the local stack's S3): what `observatory dev` sees.
// Each with two kinds of body (bench/collector-batches.ts): the shared context in every event (DESIGN.md's
// body, any producer), and once per batch (the Tracker's). The baseline handles the same bytes as the
// collector in each, so the second has a smaller input while the collector's output is the same.
// Run: npm run bench -- collector
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import { createCollector } from "../functions/collector/collector.js";
import { RAW_GZIP_LEVEL } from "../functions/collector/limits.js";
import { startLocalS3 } from "../local/s3-server.js";
import {
  BATCH_EVENTS,
  BATCHES,
  batchBodies,
  CONTEXT_SHAPES,
  httpApiEvent,
  inProcessSinkClient,
} from "./collector-batches.js";

/** Enough rounds that a few disturbed by neighbours (a shared 2-core machine) do not move the median. */
const ROUNDS = 25;
const WARMUP_ROUNDS = 1;

/** Seconds one call takes. */
async function timed(run: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function compare(sinkName: string, client: S3Client, bucket: string, bodies: string[]): Promise<void> {
  const collector = createCollector({
    s3: client,
    bucket,
    apiKeys: ["bench-key"],
    schemas: DEMO_EVENT_SCHEMAS,
    service: "bench",
    stage: "bench",
  });
  let seq = 0;
  const viaCollector = async (body: string) => {
    const result = await collector.handler(httpApiEvent(body, seq++));
    if (result.statusCode !== 200 || !result.body.startsWith(`{"accepted":${BATCH_EVENTS},`))
      throw new Error(`collector answered ${result.statusCode} ${result.body.slice(0, 300)}`);
  };
  const baseline = async (body: string) => {
    JSON.parse(body);
    // Compressed as the collector compresses (same level, one synchronous pass): on this busy 2-core
    // machine the thread pool's hand-off wait would otherwise slow the baseline and flatter the ratio.
    const gz = gzipSync(body, { level: RAW_GZIP_LEVEL });
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: `baseline/${seq++}.ndjson.gz`, Body: gz }));
  };
  const collectorRates: number[] = [];
  const baselineRates: number[] = [];
  // Interleave the two batch by batch, so load from neighbours (a shared 2-core machine), GC and CPU
  // frequency changes hit both alike; each round yields one rate for each.
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    let collectorSeconds = 0;
    let baselineSeconds = 0;
    for (const body of bodies) {
      collectorSeconds += await timed(() => viaCollector(body));
      baselineSeconds += await timed(() => baseline(body));
    }
    if (round >= WARMUP_ROUNDS) {
      collectorRates.push((bodies.length * BATCH_EVENTS) / collectorSeconds);
      baselineRates.push((bodies.length * BATCH_EVENTS) / baselineSeconds);
    }
  }
  const c = median(collectorRates);
  const b = median(baselineRates);
  // Each round's two rates were measured side by side, so their ratio is the steadiest figure.
  const perRound = median(collectorRates.map((rate, i) => rate / baselineRates[i]!));
  console.log(`sink: ${sinkName}`);
  console.log(
    `  collector handler : ${Math.round(c).toLocaleString("en-US")} events/s (median of ${ROUNDS} rounds x ${BATCHES} batches x ${BATCH_EVENTS} events)`,
  );
  console.log(
    `  baseline          : ${Math.round(b).toLocaleString("en-US")} events/s (JSON.parse + gzipSync level ${RAW_GZIP_LEVEL}, as the collector, + PutObject of the same bytes)`,
  );
  console.log(`  ratio             : ${(c / b).toFixed(2)}x baseline (goal >= 0.5x)`);
  console.log(`  per-round ratio   : ${perRound.toFixed(2)}x (median of the ${ROUNDS} rounds' own ratios)`);
}

const bodiesOf = new Map(CONTEXT_SHAPES.map(({ shape }) => [shape, batchBodies(shape)]));
const meanBytes = (bodies: string[]) =>
  Math.round(bodies.reduce((a, b) => a + Buffer.byteLength(b), 0) / bodies.length).toLocaleString("en-US");
console.log(
  `collector bench: ${BATCHES} distinct batches of ${BATCH_EVENTS} events, ${CONTEXT_SHAPES.map(({ shape }) => `${meanBytes(bodiesOf.get(shape)!)} bytes each on average (${shape} context)`).join(", ")}; node ${process.version}`,
);

const sink = inProcessSinkClient();
for (const { shape, label } of CONTEXT_SHAPES)
  await compare(
    `in-process (SDK PutObject answered in memory); bodies: ${label}`,
    sink.client,
    "bench-bucket",
    bodiesOf.get(shape)!,
  );

const dir = await mkdtemp(join(tmpdir(), "obs-bench-collector-"));
const s3 = await startLocalS3({ directory: join(dir, "s3"), port: 0 });
try {
  for (const { shape, label } of CONTEXT_SHAPES)
    await compare(`s3rver at ${s3.endpoint}; bodies: ${label}`, s3.client, s3.bucket, bodiesOf.get(shape)!);
} finally {
  await s3.close();
  await rm(dir, { recursive: true, force: true });
}
