/**
 * A realistic, seeded data set for the query surface's tests and benchmark, with the answers computed
 * independently in JavaScript. It writes what the pipeline writes: gzip NDJSON raw objects
 * (RawEventRecord lines, raw/dt=/hour=/) and ZSTD Parquet tables (tables/<table>/dt=/hour=/) with
 * the contract's columns and types, produced with DuckDB the way the compaction worker does.
 * (Stands in for H7's compaction until it lands; the layout and columns come from the same contracts.)
 */
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import type { QuarantineRecord, RawEventRecord } from "../contracts/event-record.js";
import { DEMO_EVENT_SCHEMAS } from "../contracts/event-schema.js";
import {
  EVENTS_COLUMNS,
  eventSchemaColumns,
  propertyOfColumn,
  QUARANTINE_COLUMNS,
} from "../contracts/events-table.js";
import { quarantineObjectKey, rawObjectKey, tablePrefix } from "../contracts/storage-layout.js";
import { seededRandom } from "../local/seeded-random.js";

/** Events per raw object: one collector request carries a batch of about this many. */
const EVENTS_PER_RAW_OBJECT = 200;
const SEARCH_TERMS = [
  "cats",
  "dogs",
  "sunset",
  "café au lait",
  "日本の桜",
  "mountains",
  "beach",
  "city at night",
  "forest",
  "snow",
];
const REJECTED_PER_REQUEST = 2;
const REJECTION_REASONS = [
  "properties.n_results: must be integer",
  "event name is empty after conforming",
  "properties.image_size: must be >= 0",
];

export interface QueryFixture {
  events: RawEventRecord[];
  quarantine: QuarantineRecord[];
  /** Total size of the gzip NDJSON raw objects the events came from. */
  rawGzipBytes: number;
  /** Size of the gzip NDJSON quarantine object the rejected events came from. */
  quarantineGzipBytes: number;
  /** Total size of the Parquet objects written under tables/. */
  parquetBytes: number;
  parquetObjects: number;
}

export function generateEvents(
  count: number,
  seed = 42,
): { events: RawEventRecord[]; quarantine: QuarantineRecord[] } {
  const next = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  const start = Date.UTC(2026, 0, 14, 22, 0, 0);
  const spanMs = 30 * 3600 * 1000; // crosses midnight: two days, many hours
  const events: RawEventRecord[] = [];
  for (let i = 0; i < count; i++) {
    const at = new Date(start + Math.floor(next() * spanMs));
    const anonymous = next() < 0.1;
    const user = `user_${String(Math.floor(next() * 250)).padStart(4, "0")}`;
    const roll = next();
    const [event, properties]: [string, Record<string, unknown>] =
      roll < 0.45
        ? ["search_made", { query: pick(SEARCH_TERMS), n_results: Math.floor(next() * 500) }]
        : roll < 0.75
          ? [
              "downloaded_img",
              {
                image_id: `img_${Math.floor(next() * 5000)}`,
                image_size: 20_000 + Math.floor(next() * 4_000_000),
              },
            ]
          : roll < 0.9
            ? [
                "uploaded_img",
                {
                  image_id: `img_${Math.floor(next() * 5000)}`,
                  image_size: 50_000 + Math.floor(next() * 8_000_000),
                },
              ]
            : [
                "page_viewed",
                {
                  path: pick(["/", "/search", "/img/1", "/account"]),
                  referrer: pick(["", "https://example.com/"]),
                },
              ];
    events.push({
      event_id: `evt_${seed}_${i}`,
      event,
      event_time: at.toISOString(),
      received_at: new Date(at.getTime() + Math.floor(next() * 2000)).toISOString(),
      user_id: anonymous ? null : user,
      anonymous_id: anonymous ? `anon_${Math.floor(next() * 100)}` : null,
      correlation_id: `corr_${Math.floor(i / 5)}`,
      service: pick(["web", "api", "ios"]),
      stage: "prod",
      properties,
      context: {
        library: { name: "observatory-tracker", version: "0.1.0" },
        user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
        ip: `203.0.113.${Math.floor(next() * 255)}`,
        request_id: `req_${Math.floor(i / EVENTS_PER_RAW_OBJECT)}`,
      },
      schema_version: event === "page_viewed" ? null : 1,
      request_id: `req_${Math.floor(i / EVENTS_PER_RAW_OBJECT)}`,
    });
  }
  const quarantine: QuarantineRecord[] = [];
  let requestAt = start;
  for (let i = 0; i < Math.max(3, Math.floor(count / 100)); i++) {
    // Two rejected events per bad request: the collector writes one quarantine object per request.
    if (i % REJECTED_PER_REQUEST === 0) requestAt = start + Math.floor(next() * spanMs);
    const reasons =
      next() < 0.2 ? [pick(REJECTION_REASONS), pick(REJECTION_REASONS)] : [pick(REJECTION_REASONS)];
    const request = Math.floor(i / REJECTED_PER_REQUEST);
    quarantine.push({
      quarantined_at: new Date(requestAt).toISOString(),
      request_id: `req_q${request}`,
      correlation_id: `corr_q${request}`,
      status: 200,
      index: i % REJECTED_PER_REQUEST,
      event_id: `bad_${i}`,
      event: "search_made",
      reasons: [...new Set(reasons)],
      payload: JSON.stringify({
        event: "Search Made",
        user_id: `user_${String(Math.floor(next() * 250)).padStart(4, "0")}`,
        timestamp: new Date(requestAt - 1500).toISOString(),
        properties: { query: pick(SEARCH_TERMS), n_results: "many" },
      }),
      payload_encoding: "json",
    });
  }
  return { events, quarantine };
}

export interface FixtureOptions {
  s3: S3Client;
  bucket: string;
  /** Holds DuckDB's temporary files; removed afterwards. */
  workDir: string;
  events: number;
  seed?: number;
}

/** Writes the raw zone and the Parquet tables of a generated data set into S3 (a local s3rver). */
export async function writeQueryFixture(options: FixtureOptions): Promise<QueryFixture> {
  const raw = await writeRawZone(options);
  const tables = await writeTables(options, raw);
  return { ...raw, ...tables };
}

/** Only the raw zone (gzip NDJSON in raw/ and quarantine/), as the collector leaves it for compaction. */
export async function writeRawZone(
  options: FixtureOptions,
): Promise<Pick<QueryFixture, "events" | "quarantine" | "rawGzipBytes" | "quarantineGzipBytes">> {
  const { events, quarantine } = generateEvents(options.events, options.seed);
  let rawGzipBytes = 0;
  for (let i = 0; i < events.length; i += EVENTS_PER_RAW_OBJECT) {
    const batch = events.slice(i, i + EVENTS_PER_RAW_OBJECT);
    const body = gzipSync(`${batch.map((e) => JSON.stringify(e)).join("\n")}\n`);
    rawGzipBytes += body.length;
    const key = rawObjectKey(new Date(batch[0]!.received_at), batch[0]!.request_id);
    await options.s3.send(new PutObjectCommand({ Bucket: options.bucket, Key: key, Body: body }));
  }
  let quarantineGzipBytes = 0;
  for (let i = 0; i < quarantine.length; i += REJECTED_PER_REQUEST) {
    const rejected = quarantine.slice(i, i + REJECTED_PER_REQUEST);
    const body = gzipSync(`${rejected.map((q) => JSON.stringify(q)).join("\n")}\n`);
    quarantineGzipBytes += body.length;
    const key = quarantineObjectKey(new Date(rejected[0]!.quarantined_at), rejected[0]!.request_id);
    await options.s3.send(new PutObjectCommand({ Bucket: options.bucket, Key: key, Body: body }));
  }
  return { events, quarantine, rawGzipBytes, quarantineGzipBytes };
}

/**
 * The Parquet tables of the data set, written with DuckDB the way the compaction worker writes them
 * (contract columns and types, ZSTD, dt/hour partitions): fast fixtures for tests of the query side.
 */
async function writeTables(
  options: FixtureOptions,
  { events, quarantine }: Pick<QueryFixture, "events" | "quarantine">,
): Promise<Pick<QueryFixture, "parquetBytes" | "parquetObjects">> {
  await mkdir(options.workDir, { recursive: true });

  const eventsFile = join(options.workDir, "events.ndjson");
  const quarantineFile = join(options.workDir, "quarantine.ndjson");
  await writeFile(eventsFile, `${events.map((e) => JSON.stringify(e)).join("\n")}\n`);
  await writeFile(quarantineFile, `${quarantine.map((q) => JSON.stringify(q)).join("\n")}\n`);
  const out = join(options.workDir, "tables");
  await mkdir(out, { recursive: true });
  const instance = await DuckDBInstance.create(":memory:");
  const db = await instance.connect();
  try {
    await db.run("SET TimeZone = 'UTC'");
    await db.run(
      `CREATE TABLE raw AS SELECT * FROM read_json('${eventsFile}', format = 'newline_delimited', columns = {
        event_id: 'VARCHAR', event: 'VARCHAR', event_time: 'TIMESTAMPTZ', received_at: 'TIMESTAMPTZ', user_id: 'VARCHAR',
        anonymous_id: 'VARCHAR', correlation_id: 'VARCHAR', service: 'VARCHAR', stage: 'VARCHAR', properties: 'JSON', context: 'JSON'})`,
    );
    const partitions = "strftime(event_time, '%Y-%m-%d') AS dt, strftime(event_time, '%H') AS hour";
    const cast = (expression: string, type: string, name: string) =>
      `CAST(${expression} AS ${type}) AS ${name}`;
    const eventsSelect = EVENTS_COLUMNS.map((c) => cast(c.name, c.duckdbType, c.name)).join(", ");
    await copyPartitioned(db, `SELECT ${eventsSelect}, ${partitions} FROM raw`, join(out, "events"));
    for (const schema of DEMO_EVENT_SCHEMAS) {
      const select = eventSchemaColumns(schema)
        .map((c) => {
          const property = propertyOfColumn(c);
          return property
            ? cast(`properties->>'$.${property}'`, c.duckdbType, c.name)
            : cast(c.name, c.duckdbType, c.name);
        })
        .join(", ");
      await copyPartitioned(
        db,
        `SELECT ${select}, ${partitions} FROM raw WHERE event = '${schema.event}'`,
        join(out, schema.event),
      );
    }
    await db.run(
      `CREATE TABLE q AS SELECT * FROM read_json('${quarantineFile}', format = 'newline_delimited', columns = {
        quarantined_at: 'TIMESTAMPTZ', request_id: 'VARCHAR', correlation_id: 'VARCHAR', status: 'INTEGER', index: 'INTEGER',
        event_id: 'VARCHAR', event: 'VARCHAR', reasons: 'VARCHAR[]', payload: 'VARCHAR', payload_encoding: 'VARCHAR'})`,
    );
    const quarantineSelect = QUARANTINE_COLUMNS.map((c) =>
      cast(c.name === "batch_index" ? "index" : c.name, c.duckdbType, c.name),
    ).join(", ");
    await copyPartitioned(
      db,
      `SELECT ${quarantineSelect}, strftime(quarantined_at, '%Y-%m-%d') AS dt, strftime(quarantined_at, '%H') AS hour FROM q`,
      join(out, "quarantine"),
    );
  } finally {
    db.closeSync();
    instance.closeSync();
  }
  let parquetBytes = 0;
  let parquetObjects = 0;
  for (const file of await listFiles(out)) {
    const body = await readFile(file);
    const [table, ...rest] = relative(out, file).split("/");
    parquetBytes += body.length;
    parquetObjects++;
    await options.s3.send(
      new PutObjectCommand({
        Bucket: options.bucket,
        Key: `${tablePrefix(table!)}${rest.join("/")}`,
        Body: body,
      }),
    );
  }
  await rm(options.workDir, { recursive: true, force: true });
  return { parquetBytes, parquetObjects };
}

async function copyPartitioned(
  db: import("@duckdb/node-api").DuckDBConnection,
  select: string,
  directory: string,
): Promise<void> {
  // ZSTD, as the compaction worker writes; one file per partition, partition columns in the path only.
  await db.run(
    `COPY (${select}) TO '${directory}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt, hour), OVERWRITE_OR_IGNORE)`,
  );
}

async function listFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

// --- the named queries' answers, computed from the generated records without SQL ---------------------

export function expectedAnswers(fixture: Pick<QueryFixture, "events" | "quarantine">) {
  const perUser = new Map<string, { num_downloads: number; num_uploads: number }>();
  const bytes = new Map<string, { total_bytes_downloaded: number; num_downloads: number }>();
  const searches = new Map<string, { n: number; sum: number }>();
  const activeByDay = new Map<string, Set<string>>();
  for (const e of fixture.events) {
    const day = e.event_time.slice(0, 10);
    const who = e.user_id ?? e.anonymous_id;
    if (who) activeByDay.set(day, (activeByDay.get(day) ?? new Set()).add(who));
    if (e.user_id && (e.event === "downloaded_img" || e.event === "uploaded_img")) {
      const row = perUser.get(e.user_id) ?? { num_downloads: 0, num_uploads: 0 };
      if (e.event === "downloaded_img") row.num_downloads++;
      else row.num_uploads++;
      perUser.set(e.user_id, row);
    }
    if (e.user_id && e.event === "downloaded_img") {
      const row = bytes.get(e.user_id) ?? { total_bytes_downloaded: 0, num_downloads: 0 };
      row.total_bytes_downloaded += e.properties.image_size as number;
      row.num_downloads++;
      bytes.set(e.user_id, row);
    }
    if (e.event === "search_made") {
      const row = searches.get(e.properties.query as string) ?? { n: 0, sum: 0 };
      row.n++;
      row.sum += e.properties.n_results as number;
      searches.set(e.properties.query as string, row);
    }
  }
  const reasons = new Map<string, number>();
  for (const q of fixture.quarantine) for (const r of q.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
  const byCountThenName = <T extends { name: string; count: number }>(a: T, b: T) =>
    b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return {
    downloads_uploads_per_user: [...perUser]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([user_id, row]) => ({ user_id, ...row })),
    bytes_downloaded_per_user: [...bytes]
      .map(([user_id, row]) => ({ user_id, ...row }))
      .sort(
        (a, b) => b.total_bytes_downloaded - a.total_bytes_downloaded || (a.user_id < b.user_id ? -1 : 1),
      ),
    popular_searches: [...searches]
      .map(([query, row]) => ({ name: query, count: row.n, avg: row.sum / row.n }))
      .sort(byCountThenName)
      .slice(0, 100)
      .map((r) => ({ query: r.name, num_searches: r.count, avg_n_results: r.avg })),
    rejected_events_by_reason: [...reasons]
      .map(([reason, count]) => ({ name: reason, count }))
      .sort(byCountThenName)
      .map((r) => ({ reason: r.name, num_rejected: r.count })),
    daily_active_users: [...activeByDay]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([dt, users]) => ({ dt, active_users: users.size })),
  };
}
