// The worker's timestamp conversion: raw ISO-8601 text (any offset, any fraction) -> TIMESTAMP_MS in
// UTC, exactly as DuckDB's own TIMESTAMPTZ cast would give it, partitioned by the UTC hour.
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DuckDB, openDuckDB, sqlString } from "../functions/compaction/duckdb.js";
import { eventTables } from "../functions/compaction/tables.js";
import { compactFiles, rows } from "../functions/compaction/transform.js";
import { rawEvent } from "./compaction-fixtures.js";

/** event_time as sent -> the UTC value the events table must hold. */
const CASES: [sent: string, utc: string][] = [
  ["2026-11-22T10:15:00.000Z", "2026-11-22 10:15:00"],
  ["2026-11-22T12:15:00.250+02:00", "2026-11-22 10:15:00.25"],
  ["2026-11-22T04:45:00-05:30", "2026-11-22 10:15:00"],
  ["2026-11-22T11:15:00+0100", "2026-11-22 10:15:00"],
  // Sub-millisecond digits round to the nearest millisecond, across an hour boundary too.
  ["2026-11-22T10:59:59.9996Z", "2026-11-22 11:00:00"],
  ["2026-11-22T10:15:00.123456789Z", "2026-11-22 10:15:00.123"],
  // Before the epoch (negative microseconds).
  ["1969-12-31T23:59:59.9994Z", "1969-12-31 23:59:59.999"],
];

let work: string;
let db: DuckDB;
let stored: Map<string, { event_time: string; received_at: string; partition: string }>;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "compaction-timestamps-"));
  const records = CASES.map(([sent], i) =>
    rawEvent({ event: "page_viewed", event_id: `e${i}`, event_time: sent, received_at: sent }),
  );
  const rawFile = path.join(work, "raw.ndjson.gz");
  writeFileSync(rawFile, gzipSync(records.map((r) => JSON.stringify(r)).join("\n")));
  db = await openDuckDB({ tempDirectory: path.join(work, "tmp"), threads: 1 });
  const result = await compactFiles(db.connection, {
    kind: "events",
    inputFiles: [rawFile],
    tables: eventTables([]),
    outDirectory: path.join(work, "out"),
  });
  stored = new Map();
  for (const file of result.files) {
    const found = await rows<{ event_id: string; event_time: string; received_at: string }>(
      db.connection,
      `SELECT event_id, CAST(event_time AS VARCHAR) AS event_time, CAST(received_at AS VARCHAR) AS received_at
       FROM read_parquet(${sqlString(file.path)})`,
    );
    for (const row of found) stored.set(row.event_id, { ...row, partition: file.partitionPath });
  }
}, 60_000);

afterAll(async () => {
  db?.close();
  await rm(work, { recursive: true, force: true });
});

describe("compaction timestamps", () => {
  it.each(CASES.map(([sent, utc], i) => [sent, utc, i] as const))(
    "%s is stored as %s UTC, in that UTC hour's partition",
    (_sent, utc, i) => {
      const row = stored.get(`e${i}`);
      expect(row?.event_time).toBe(utc);
      expect(row?.received_at).toBe(utc);
      expect(row?.partition).toBe(`dt=${utc.slice(0, 10)}/hour=${utc.slice(11, 13)}/`);
    },
  );
});
