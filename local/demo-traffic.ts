/**
 * Realistic demo traffic for the metrics pipeline, as Tracker calls: an image site where users
 * search, download and upload images (the talks' `search_made` with query and n_results, and the
 * `Downloaded img` metric log with image sizes). Deterministic for a given seed, so a demo run and a
 * test see the same traffic. Some calls are deliberately bad in ways only the collector can tell
 * (schema violations, colliding keys, absurd timestamps), so the demo shows quarantine at work.
 */
import type { TrackOptions } from "../runtime/tracker-options.js";
import { seededRandom } from "./seeded-random.js";

export interface TrackCall {
  event: string;
  properties: Record<string, unknown>;
  options: TrackOptions;
  /** Why the collector will reject it (bad calls only). */
  expectedRejection?: string;
}

export interface DemoTrafficOptions {
  /** Good events to generate. */
  events: number;
  users?: number;
  seed?: number;
  /** Events are spread over the `spreadHours` before this instant. */
  now?: Date;
  spreadHours?: number;
}

/** Searches people make on an image site, with how many results each tends to return. */
const QUERIES: readonly [string, number][] = [
  ["sunset beach", 240],
  ["mountain lake", 130],
  ["black and white portrait", 85],
  ["city at night", 310],
  ["golden retriever", 55],
  ["autumn forest", 170],
  ["northern lights", 40],
  ["latte art", 25],
  ["vintage car", 95],
  ["street food", 60],
  ["desert dunes", 35],
  ["snowy cabin", 0],
];
/** Image sizes in bytes: 120 KB to ~9 MB, most of them small (the talk's downloads table: 1365, 650, 9001 KB). */
const SIZE_BYTES_RANGE = [120 * 1024, 9001 * 1024] as const;

function imageId(next: () => number): string {
  return Math.floor(next() * 36 ** 5)
    .toString(36)
    .padStart(5, "0");
}

/**
 * Sessions of one user: a search, then downloads of some results, sometimes an upload. Each session is
 * one request chain, so its events share a correlation id. A minority of producers still send the
 * legacy names (`Downloaded img`, `imageId`): the collector conforms them to the same columns.
 */
export function demoTraffic(options: DemoTrafficOptions): TrackCall[] {
  const next = seededRandom(options.seed ?? 42);
  const users = options.users ?? 25;
  const now = (options.now ?? new Date()).getTime();
  const spreadMs = (options.spreadHours ?? 3) * 3_600_000;
  const calls: TrackCall[] = [];
  let session = 0;
  while (calls.length < options.events) {
    session++;
    const userId = String(1000 + Math.floor(next() * users));
    const correlationId = `demo-${(options.seed ?? 42).toString(36)}-${session}`;
    let at = now - Math.floor(next() * spreadMs);
    const stamp = () => {
      at = Math.min(now, at + Math.floor(next() * 20_000));
      return new Date(at).toISOString();
    };
    const legacy = next() < 0.15;
    const [query, typical] = QUERIES[Math.floor(next() * QUERIES.length)]!;
    const nResults = Math.max(0, Math.round(typical * (0.5 + next())));
    calls.push({
      event: legacy ? "Search Made" : "search_made",
      properties: legacy ? { query, nResults } : { query, n_results: nResults },
      options: { userId, correlationId, timestamp: stamp() },
    });
    const downloads = nResults === 0 ? 0 : Math.floor(next() * 4);
    for (let d = 0; d < downloads && calls.length < options.events; d++) {
      const size = Math.round(
        SIZE_BYTES_RANGE[0] + next() ** 3 * (SIZE_BYTES_RANGE[1] - SIZE_BYTES_RANGE[0]),
      );
      calls.push({
        event: legacy ? "Downloaded img" : "downloaded_img",
        properties: legacy
          ? { imageId: imageId(next), imageSize: size, query }
          : { image_id: imageId(next), image_size: size, query },
        options: { userId, correlationId, timestamp: stamp() },
      });
    }
    if (next() < 0.2 && calls.length < options.events) {
      const size = Math.round(
        SIZE_BYTES_RANGE[0] + next() ** 2 * (SIZE_BYTES_RANGE[1] - SIZE_BYTES_RANGE[0]),
      );
      calls.push({
        event: "uploaded_img",
        properties: { image_id: imageId(next), image_size: size, tags: [query.split(" ")[0]] },
        options: { userId, correlationId, timestamp: stamp() },
      });
    }
  }
  return calls.slice(0, options.events);
}

/** Calls the Tracker accepts but the collector must quarantine, each with the reason it will give. */
export function badDemoTraffic(now: Date = new Date()): TrackCall[] {
  const options = { userId: "1007", correlationId: "demo-bad" };
  return [
    {
      event: "search_made",
      properties: { query: "cats", n_results: "lots" },
      options,
      expectedRejection: "n_results must be integer (declared schema)",
    },
    {
      event: "downloaded_img",
      properties: { image_id: "x1", image_size: -1 },
      options,
      expectedRejection: "image_size must be >= 0 (declared schema)",
    },
    {
      event: "search_made",
      properties: { n_results: 3 },
      options,
      expectedRejection: "query is required (declared schema)",
    },
    { event: "!!!", properties: {}, options, expectedRejection: "event name empty after conforming" },
    {
      event: "profile_viewed",
      properties: { userId: "1", user_id: "1" },
      options,
      expectedRejection: "keys collide after conforming",
    },
    {
      event: "page_viewed",
      properties: JSON.parse('{"__proto__":{"admin":true}}'),
      options,
      expectedRejection: "reserved key __proto__",
    },
    {
      event: "app_opened",
      properties: {},
      options: { ...options, timestamp: "1999-12-31T23:59:59.000Z" },
      expectedRejection: "event time before 2000",
    },
    {
      event: "app_opened",
      properties: {},
      options: { ...options, timestamp: new Date(now.getTime() + 3 * 86_400_000).toISOString() },
      expectedRejection: "event time days in the future",
    },
  ];
}
