// Ground truth: a generated data set with known answers goes collector (the local stack's HTTP API)
// -> raw zone -> compaction (the registered `compaction` job through the local Step Functions runner,
// twice: late events and re-sent duplicates arrive after the first run) -> the local query engine;
// every named query must return exactly the rows computed here from what was sent.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJob } from "../etl/job-catalog.js";
import { LocalQueryEngine } from "../local/query-engine.js";
import { type LocalStack, startLocalStack } from "../local/stack.js";
import { runLocalJob } from "../local/step-functions/local-etl.js";
import { NAMED_QUERIES } from "../query/named-queries.js";
import { tableFiles } from "./compaction-fixtures.js";

interface SentEvent {
  event: string;
  event_id: string;
  timestamp: string;
  user_id?: string;
  anonymous_id?: string;
  properties: Record<string, unknown>;
}

const HOUR = 3_600_000;
const USERS = Array.from({ length: 12 }, (_, i) => `user-${String(i).padStart(2, "0")}`);
// Each query is searched a different number of times, so the ranking has no ties to order.
const QUERIES = ["café au lait", "東京 夜景", "🚀 launch", "naïve résumé", "plain"];

/** A deterministic stream of events over the last ~50 hours (three UTC days at most). */
function generate(now: number): { phase1: SentEvent[]; phase2: SentEvent[]; bad: SentEvent[] } {
  const phase1: SentEvent[] = [];
  const phase2: SentEvent[] = [];
  let n = 0;
  const at = (hoursAgo: number) => new Date(now - hoursAgo * HOUR - (n++ % 50) * 1000).toISOString();
  const push = (list: SentEvent[], e: Omit<SentEvent, "event_id">) =>
    list.push({ ...e, event_id: randomUUID() });
  USERS.forEach((user, u) => {
    for (let d = 0; d <= u % 4; d++)
      push(phase1, {
        event: "downloaded_img",
        timestamp: at(2 + u),
        user_id: user,
        properties: { image_id: `img-${u}-${d}`, image_size: 1000 * (u + 1) + d },
      });
    for (let d = 0; d < u % 3; d++)
      push(phase1, {
        event: "uploaded_img",
        timestamp: at(3 + u),
        user_id: user,
        properties: { image_id: `up-${u}-${d}`, image_size: 500 + d },
      });
  });
  QUERIES.forEach((query, q) => {
    for (let i = 0; i <= q; i++)
      push(phase1, {
        event: "search_made",
        timestamp: at(1 + i),
        user_id: USERS[(q + i) % USERS.length] as string,
        properties: { query, n_results: q * 10 + i },
      });
  });
  for (let i = 0; i < 6; i++)
    push(phase1, {
      event: "page_viewed",
      timestamp: at(i * 9),
      anonymous_id: `anon-${i % 4}`,
      properties: { path: `/p/${i}` },
    });
  // Phase 2: new events, a property appearing mid-stream, late events for hours already compacted,
  // and re-sent copies (same event_id) of phase-1 events.
  for (let i = 0; i < 6; i++)
    push(phase2, {
      event: "page_viewed",
      timestamp: at(i * 7),
      anonymous_id: `anon-${i % 5}`,
      properties: { path: `/q/${i}`, referrer: i % 2 ? "https://ex.ample/ü" : null },
    });
  push(phase2, {
    event: "downloaded_img",
    timestamp: at(2),
    user_id: "user-00",
    properties: { image_id: "late-1", image_size: 77 },
  });
  push(phase2, {
    event: "search_made",
    timestamp: at(30),
    user_id: "user-03",
    properties: { query: "plain", n_results: 1 },
  });
  push(phase2, {
    event: "uploaded_img",
    timestamp: at(48),
    user_id: "user-11",
    properties: { image_id: "late-2", image_size: 5 },
  });
  phase2.push(...phase1.filter((_, i) => i % 7 === 0));
  const bad: SentEvent[] = [
    {
      event: "search_made",
      event_id: randomUUID(),
      timestamp: at(1),
      user_id: "user-01",
      properties: { query: "x", n_results: "many" },
    },
    {
      event: "downloaded_img",
      event_id: randomUUID(),
      timestamp: at(1),
      properties: { image_id: "i", image_size: 1 },
    },
    {
      event: "downloaded_img",
      event_id: randomUUID(),
      timestamp: at(1),
      user_id: "user-02",
      properties: { image_id: "i", image_size: -5 },
    },
  ];
  return { phase1, phase2, bad };
}

/** Map.groupBy, which Node 20 lacks. */
function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

/** What each named query must answer, computed from the distinct accepted events. */
function expectedAnswers(events: SentEvent[]): Record<string, Record<string, unknown>[]> {
  const byUser = (list: SentEvent[]) =>
    groupBy(
      list.filter((e) => e.user_id),
      (e) => e.user_id as string,
    );
  const updown = events.filter((e) => e.event === "downloaded_img" || e.event === "uploaded_img");
  const downloads = events.filter((e) => e.event === "downloaded_img");
  const searches = groupBy(
    events.filter((e) => e.event === "search_made"),
    (e) => e.properties.query as string,
  );
  const days = groupBy(events, (e) => e.timestamp.slice(0, 10));
  return {
    downloads_uploads_per_user: [...byUser(updown)]
      .map(([user_id, list]) => ({
        user_id,
        num_downloads: list.filter((e) => e.event === "downloaded_img").length,
        num_uploads: list.filter((e) => e.event === "uploaded_img").length,
      }))
      .sort((a, b) => (a.user_id < b.user_id ? -1 : 1)),
    bytes_downloaded_per_user: [...byUser(downloads)]
      .map(([user_id, list]) => ({
        user_id,
        total_bytes_downloaded: list.reduce((s, e) => s + (e.properties.image_size as number), 0),
        num_downloads: list.length,
      }))
      .sort(
        (a, b) => b.total_bytes_downloaded - a.total_bytes_downloaded || (a.user_id < b.user_id ? -1 : 1),
      ),
    popular_searches: [...searches]
      .map(([query, list]) => ({
        query,
        num_searches: list.length,
        avg_n_results: list.reduce((s, e) => s + (e.properties.n_results as number), 0) / list.length,
      }))
      .sort((a, b) => b.num_searches - a.num_searches),
    daily_active_users: [...days]
      .map(([dt, list]) => ({ dt, active_users: new Set(list.map((e) => e.user_id ?? e.anonymous_id)).size }))
      .sort((a, b) => (a.dt < b.dt ? -1 : 1)),
  };
}

describe("ground truth: collector -> raw -> compaction (local runner) -> named queries", () => {
  let dir: string;
  let stack: LocalStack;
  let engine: LocalQueryEngine;
  const accepted = new Map<string, SentEvent>();
  const rejectedReasons = new Map<string, number>();
  const runs: Awaited<ReturnType<typeof runLocalJob>>[] = [];
  let sentCount = 0;

  async function send(batch: SentEvent[]): Promise<void> {
    const response = await fetch(`${stack.collector.url}/v1/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": stack.apiKey },
      body: JSON.stringify({ batch }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      accepted: number;
      rejected: { index: number; errors: string[] }[];
    };
    const rejected = new Set(body.rejected.map((r) => r.index));
    for (const r of body.rejected)
      for (const reason of r.errors) rejectedReasons.set(reason, (rejectedReasons.get(reason) ?? 0) + 1);
    batch.forEach((e, i) => {
      if (!rejected.has(i)) accepted.set(e.event_id, e);
    });
    sentCount += batch.length - rejected.size;
  }

  const compact = async () => {
    const run = await runLocalJob({
      job: getJob("compaction"),
      s3: stack.s3.client,
      bucket: stack.bucket,
      dynamodb: stack.dynamodb.client,
    });
    runs.push(run);
    return run;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-ground-truth-"));
    stack = await startLocalStack({ dataDir: dir, s3Port: 0, collectorPort: 0, dynamoPort: 0, quiet: true });
    const data = generate(Date.now());
    for (let i = 0; i < data.phase1.length; i += 10) await send(data.phase1.slice(i, i + 10));
    await send([...data.bad.slice(0, 2), data.phase1[0] as SentEvent]); // a retry next to bad events
    await compact();
    for (let i = 0; i < data.phase2.length; i += 8) await send(data.phase2.slice(i, i + 8));
    await send(data.bad.slice(2));
    await compact();
    engine = await LocalQueryEngine.open({
      s3: stack.s3.client,
      bucket: stack.bucket,
      cacheDir: join(dir, "query-cache"),
    });
  }, 120_000);

  afterAll(async () => {
    engine?.close();
    await stack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("ran the compaction job twice through the local Step Functions runner, both SUCCEEDED", () => {
    expect(runs.map((r) => r.ledger?.status)).toEqual(["SUCCEEDED", "SUCCEEDED"]);
    expect(sentCount).toBeGreaterThan(accepted.size); // duplicates really were sent and accepted twice
    const second = JSON.parse(runs[1]?.ledger?.summary ?? "{}") as {
      output?: { duplicates_against_existing?: number; partitions_written?: number };
    };
    // The second run merged into partitions the first had written, dropping re-sent copies.
    expect(second.output?.duplicates_against_existing).toBeGreaterThan(0);
  });

  it("holds every accepted event exactly once", async () => {
    const result = await engine.query("SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events");
    expect(result.rows).toEqual([{ n: accepted.size, ids: accepted.size }]);
    const ids = await engine.query("SELECT event_id FROM events ORDER BY event_id");
    expect(ids.rows.map((r) => r.event_id)).toEqual([...accepted.keys()].sort());
  });

  it("keeps one compacted file per partition after late events were merged in", async () => {
    for (const table of ["events", "search_made", "downloaded_img", "uploaded_img", "quarantine"]) {
      const files = await tableFiles(stack.s3.client, stack.bucket, table);
      expect(files.length).toBeGreaterThan(0);
      expect(files.every((f) => f.endsWith("/part-0000.parquet"))).toBe(true);
    }
  });

  for (const named of NAMED_QUERIES) {
    it(`named query ${named.name} returns exactly the expected rows`, async () => {
      const result = await engine.query(named.sql);
      const want =
        named.name === "rejected_events_by_reason"
          ? [...rejectedReasons]
              .map(([reason, num_rejected]) => ({ reason, num_rejected }))
              .sort((a, b) => b.num_rejected - a.num_rejected || (a.reason < b.reason ? -1 : 1))
          : expectedAnswers([...accepted.values()])[named.name];
      expect(want, `no expectation for ${named.name}`).toBeDefined();
      expect(want?.length).toBeGreaterThan(0);
      expect(result.rows).toHaveLength(want?.length ?? 0);
      result.rows.forEach((row, i) => {
        for (const [column, value] of Object.entries(want?.[i] ?? {})) {
          if (typeof value === "number" && !Number.isInteger(value))
            expect(row[column]).toBeCloseTo(value, 9);
          else expect(row[column], `${named.name} row ${i} column ${column}`).toEqual(value);
        }
      });
    });
  }

  it("answers about a property that appeared mid-stream and about unicode values", async () => {
    const referrers = await engine.query(
      "SELECT json_extract_scalar(properties, '$.referrer') AS referrer, count(*) AS n FROM events WHERE event = 'page_viewed' GROUP BY 1 ORDER BY 1 NULLS FIRST",
    );
    const pages = [...accepted.values()].filter((e) => e.event === "page_viewed");
    const withReferrer = pages.filter((e) => typeof e.properties.referrer === "string");
    expect(referrers.rows).toEqual([
      { referrer: null, n: pages.length - withReferrer.length },
      { referrer: "https://ex.ample/ü", n: withReferrer.length },
    ]);
    const tokyo = await engine.query("SELECT count(*) AS n FROM search_made WHERE query = '東京 夜景'");
    expect(tokyo.rows).toEqual([{ n: 2 }]);
  });
});
