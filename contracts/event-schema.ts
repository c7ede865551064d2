/**
 * A declared event schema: a JSON Schema for one event's `properties`, with a version. The collector
 * enforces it (ajv), the compaction worker writes a per-event table with typed columns from it, and
 * MetricPipeline declares the matching Glue table. Undeclared events are accepted as generic.
 */
export interface EventSchema {
  /** Conformed event name, e.g. `search_made`. Also the per-event table's name. */
  event: string;
  version: number;
  /** JSON Schema (draft 2020-12 subset) of the conformed `properties` object. */
  schema: {
    type: "object";
    properties: Record<string, JsonSchemaProperty>;
    required?: string[];
    additionalProperties?: boolean;
  };
}

export type JsonSchemaProperty =
  | { type: "string"; format?: string; maxLength?: number; enum?: string[] }
  | { type: "integer"; minimum?: number; maximum?: number }
  | { type: "number"; minimum?: number; maximum?: number }
  | { type: "boolean" };

/** The schemas the demo traffic and the mission's questions use (downloads, uploads, searches). */
export const DEMO_EVENT_SCHEMAS: EventSchema[] = [
  {
    event: "search_made",
    version: 1,
    schema: {
      type: "object",
      properties: { query: { type: "string", maxLength: 1024 }, n_results: { type: "integer", minimum: 0 } },
      required: ["query", "n_results"],
    },
  },
  {
    event: "downloaded_img",
    version: 1,
    schema: {
      type: "object",
      properties: { image_id: { type: "string" }, image_size: { type: "integer", minimum: 0 } },
      required: ["image_id", "image_size"],
    },
  },
  {
    event: "uploaded_img",
    version: 1,
    schema: {
      type: "object",
      properties: { image_id: { type: "string" }, image_size: { type: "integer", minimum: 0 } },
      required: ["image_id", "image_size"],
    },
  },
];
