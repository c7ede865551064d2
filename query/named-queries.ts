/**
 * The questions the pipeline exists to answer, as Athena (Trino) SQL that also runs unchanged on the
 * local DuckDB engine (local/query-engine.ts bridges the Trino functions DuckDB lacks).
 * Plain data: MetricPipeline turns each into an aws.athena.NamedQuery; tests and `observatory demo`
 * run them locally. Tables: `events`, the per-event tables of DEMO_EVENT_SCHEMAS (`downloaded_img`,
 * `search_made`...), and `quarantine` (contracts/events-table.ts).
 *
 * Each query reads as few columns as it can: Athena bills the bytes of the columns it reads, so a
 * question about one property reads the per-event table's typed column, never `events.properties`.
 */
export interface NamedQuery {
  /** Stable identifier: the NamedQuery's name and `observatory query --named <name>`. */
  name: string;
  description: string;
  sql: string;
}

export const NAMED_QUERIES: readonly NamedQuery[] = [
  {
    name: "downloads_uploads_per_user",
    description:
      "Images downloaded and uploaded by each identified user: the user_id | num_downloads | num_uploads table.",
    // From the two per-event tables rather than `events`: only `user_id` is read (no `event` column
    // over every event), 2.4x fewer bytes scanned on the benchmark's data.
    sql: `SELECT user_id,
       sum(downloads) AS num_downloads,
       sum(uploads) AS num_uploads
FROM (
  SELECT user_id, 1 AS downloads, 0 AS uploads FROM downloaded_img
  UNION ALL
  SELECT user_id, 0 AS downloads, 1 AS uploads FROM uploaded_img
) AS transfers
WHERE user_id IS NOT NULL
GROUP BY user_id
ORDER BY user_id`,
  },
  {
    name: "bytes_downloaded_per_user",
    description:
      "Total image bytes each identified user downloaded (property image_size of downloaded_img), largest first.",
    sql: `SELECT user_id,
       sum(image_size) AS total_bytes_downloaded,
       count(*) AS num_downloads
FROM downloaded_img
WHERE user_id IS NOT NULL
GROUP BY user_id
ORDER BY total_bytes_downloaded DESC, user_id`,
  },
  {
    name: "popular_searches",
    description:
      "The 100 most frequent search queries (search_made.query) with their average number of results.",
    sql: `SELECT query,
       count(*) AS num_searches,
       avg(n_results) AS avg_n_results
FROM search_made
GROUP BY query
ORDER BY num_searches DESC, query
LIMIT 100`,
  },
  {
    name: "rejected_events_by_reason",
    description:
      "Quarantined (rejected) events counted by each reason they were rejected for; an event with two reasons counts under both.",
    sql: `SELECT reason,
       count(*) AS num_rejected
FROM quarantine
CROSS JOIN UNNEST(reasons) AS r (reason)
GROUP BY reason
ORDER BY num_rejected DESC, reason`,
  },
  {
    name: "daily_active_users",
    description:
      "Distinct users (user_id, or anonymous_id when the user is not identified) with at least one event, per UTC day.",
    sql: `SELECT dt,
       count(DISTINCT coalesce(user_id, anonymous_id)) AS active_users
FROM events
GROUP BY dt
ORDER BY dt`,
  },
];

export function namedQuery(name: string): NamedQuery {
  const found = NAMED_QUERIES.find((q) => q.name === name);
  if (!found) {
    throw new Error(
      `no named query ${JSON.stringify(name)}; have: ${NAMED_QUERIES.map((q) => q.name).join(", ")}`,
    );
  }
  return found;
}
