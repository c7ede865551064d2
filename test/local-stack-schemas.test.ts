// The local stack's declared event schemas come from one source (dev --schemas / OBSERVATORY_EVENT_SCHEMAS,
// recorded in the data directory) for its collector, `etl start compaction --local` and query (F26).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { etlStartLocal } from "../cli/commands/etl-local.js";
import type { EventSchema } from "../contracts/event-schema.js";
import { EVENT_SCHEMAS_ENV } from "../etl/jobs/compaction.js";
import { eventSchemasPath } from "../local/event-schemas.js";
import { openLocalQuerySession } from "../local/query-connection.js";
import { type LocalStack, startLocalStack } from "../local/stack.js";

const CHECKOUT: EventSchema = {
  event: "checkout_done",
  version: 1,
  schema: {
    type: "object",
    properties: { amount: { type: "number" }, currency: { type: "string" } },
    required: ["amount"],
  },
};

const ports = { s3Port: 0, collectorPort: 0, dynamoPort: 0, quiet: true };

async function post(stack: LocalStack, batch: unknown[]) {
  const response = await fetch(`${stack.collector.url}/v1/batch`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": stack.apiKey },
    body: JSON.stringify({ batch }),
  });
  return (await response.json()) as { accepted: number; rejected: unknown[] };
}

const bad = { event: "checkout_done", user_id: "u2", properties: { amount: "x" } };
const good = { event: "checkout_done", user_id: "u2", properties: { amount: 12.5, currency: "EUR" } };

describe("declared event schemas of the local stack", () => {
  let dir: string;
  const envBefore = process.env[EVENT_SCHEMAS_ENV];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-schemas-"));
  });
  afterEach(() => {
    if (envBefore === undefined) delete process.env[EVENT_SCHEMAS_ENV];
    else process.env[EVENT_SCHEMAS_ENV] = envBefore;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("dev --schemas: the collector enforces them, and compaction and query in another shell use them", async () => {
    const dataDir = join(dir, "file");
    const file = join(dir, "schemas.json");
    await writeFile(file, JSON.stringify([CHECKOUT]));
    const stack = await startLocalStack({ dataDir, schemasFile: file, ...ports });
    try {
      expect(stack.schemas.source).toBe(file);
      const answer = await post(stack, [bad, good]);
      expect(answer.accepted).toBe(1);
      expect(answer.rejected).toHaveLength(1);
      expect(JSON.parse(await readFile(eventSchemasPath(dataDir), "utf8"))).toEqual([CHECKOUT]);

      // Another shell: no variable set. The run still writes the checkout_done table.
      delete process.env[EVENT_SCHEMAS_ENV];
      const out: string[] = [];
      const err = new Writable({ write: (_c, _e, done) => done() });
      const code = await etlStartLocal(
        "compaction",
        { dataDir, format: "json", threads: 0 },
        { out: (t) => out.push(t), err },
      );
      expect(code).toBe(0);
      const summary = JSON.parse(out.join("\n")) as { output: { rows_by_table: Record<string, number> } };
      expect(summary.output.rows_by_table).toMatchObject({ events: 1, checkout_done: 1 });

      delete process.env[EVENT_SCHEMAS_ENV];
      const session = await openLocalQuerySession({ dataDir });
      try {
        const reader = await session.engine.connection.runAndReadAll(
          "SELECT amount, currency FROM checkout_done",
        );
        expect(reader.getRowObjectsJS()).toEqual([{ amount: 12.5, currency: "EUR" }]);
      } finally {
        await session.close();
      }
    } finally {
      await stack.close();
    }
  });

  it("OBSERVATORY_EVENT_SCHEMAS is honoured by the local collector when no file is given", async () => {
    process.env[EVENT_SCHEMAS_ENV] = JSON.stringify([CHECKOUT]);
    const stack = await startLocalStack({ dataDir: join(dir, "env"), ...ports });
    try {
      expect(stack.schemas.source).toBe(EVENT_SCHEMAS_ENV);
      const answer = await post(stack, [bad]);
      expect(answer.accepted).toBe(0);
      expect(answer.rejected).toHaveLength(1);
    } finally {
      await stack.close();
    }
  });

  it("a bad schemas file stops the stack with a clear error before anything listens", async () => {
    const file = join(dir, "bad.json");
    await writeFile(file, JSON.stringify({ event: "x" }));
    await expect(startLocalStack({ dataDir: join(dir, "bad"), schemasFile: file, ...ports })).rejects.toThrow(
      `--schemas ${file}: must be a JSON array of event schemas`,
    );
  });
});
