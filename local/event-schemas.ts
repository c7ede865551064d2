/**
 * The local stack's declared event schemas, from one source. `observatory dev` takes them from
 * `--schemas <file.json>`, else OBSERVATORY_EVENT_SCHEMAS (the collector's variable, same format: a
 * JSON array of EventSchema), else the demo's; it writes them to `<data-dir>/event-schemas.json` and
 * sets the variable in its own process, so its collector and its scheduled compaction agree. Other
 * commands on that data directory (etl start compaction --local, query, demo) use that file, so
 * which shell had the variable no longer decides which per-event tables a run writes.
 */
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEMO_EVENT_SCHEMAS, type EventSchema } from "../contracts/event-schema.js";
import { EVENT_SCHEMAS_ENV } from "../etl/jobs/compaction.js";

export const EVENT_SCHEMAS_FILE = "event-schemas.json";

export function eventSchemasPath(dataDir: string): string {
  return join(dataDir, EVENT_SCHEMAS_FILE);
}

/** Parses and checks a JSON array of EventSchema; errors name where it came from. */
export function parseEventSchemas(json: string, source: string): EventSchema[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new Error(`${source}: not JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(value)) throw new Error(`${source}: must be a JSON array of event schemas`);
  value.forEach((s, i) => {
    const schema = s as Partial<EventSchema> | null;
    if (
      !schema ||
      typeof schema.event !== "string" ||
      !Number.isInteger(schema.version) ||
      schema.schema?.type !== "object" ||
      typeof schema.schema.properties !== "object"
    ) {
      throw new Error(
        `${source}: item ${i} is not an event schema ({"event": "...", "version": 1, "schema": {"type": "object", "properties": {...}}})`,
      );
    }
  });
  return value as EventSchema[];
}

export interface DeclaredSchemas {
  schemas: EventSchema[];
  /** Where they came from, for the user. */
  source: string;
}

/**
 * What `observatory dev` (any stack this process starts) declares: explicit schemas, else
 * `--schemas` file, else the variable, else the demo's. Recorded in the data directory, and set as
 * the variable of this process (its compaction job reads it).
 */
export async function declareStackSchemas(
  dataDir: string,
  from: { schemas?: readonly EventSchema[]; file?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<DeclaredSchemas> {
  const env = from.env ?? process.env;
  let declared: DeclaredSchemas;
  if (from.schemas) declared = { schemas: [...from.schemas], source: "given" };
  else if (from.file) {
    let text: string;
    try {
      text = readFileSync(from.file, "utf8");
    } catch (error) {
      throw new Error(`--schemas ${from.file}: ${(error as Error).message}`);
    }
    declared = { schemas: parseEventSchemas(text, `--schemas ${from.file}`), source: from.file };
  } else if (env[EVENT_SCHEMAS_ENV]) {
    declared = {
      schemas: parseEventSchemas(env[EVENT_SCHEMAS_ENV] as string, EVENT_SCHEMAS_ENV),
      source: EVENT_SCHEMAS_ENV,
    };
  } else declared = { schemas: DEMO_EVENT_SCHEMAS, source: "the demo schemas (default)" };
  await mkdir(dataDir, { recursive: true });
  await writeFile(eventSchemasPath(dataDir), `${JSON.stringify(declared.schemas, null, 2)}\n`);
  process.env[EVENT_SCHEMAS_ENV] = JSON.stringify(declared.schemas);
  return declared;
}

/**
 * For a command working on a stack's data directory: the schemas that stack declared (its
 * event-schemas.json), made this process's OBSERVATORY_EVENT_SCHEMAS so a compaction run here writes
 * the same per-event tables. Without the file (no `dev` ever ran there): the variable, else the demo's.
 */
export function useStackSchemas(dataDir: string): DeclaredSchemas {
  const path = eventSchemasPath(dataDir);
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    text = undefined;
  }
  if (text === undefined) {
    const env = process.env[EVENT_SCHEMAS_ENV];
    return env
      ? { schemas: parseEventSchemas(env, EVENT_SCHEMAS_ENV), source: EVENT_SCHEMAS_ENV }
      : { schemas: DEMO_EVENT_SCHEMAS, source: "the demo schemas (default)" };
  }
  const schemas = parseEventSchemas(text, path);
  process.env[EVENT_SCHEMAS_ENV] = JSON.stringify(schemas);
  return { schemas, source: path };
}
