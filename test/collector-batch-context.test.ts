import { describe, expect, it } from "vitest";
import { contextLayer, mergedContext } from "../functions/collector/batch-context.js";
import { type RequestFacts, rawRecordEncoder, toRawRecord } from "../functions/collector/enrich.js";
import { MAX_EVENT_BYTES } from "../functions/collector/limits.js";
import { EventValidator } from "../functions/collector/validate.js";

// A batch's context conformed once as a layer under each event's own (batch-context.ts) must give
// every event exactly what merging the batch's context into it first gives: the same verdict, the
// same errors, the same stored line. Objects come from JSON text, as the collector gets them (so a
// "__proto__" key is an own key, as JSON.parse makes it).

const NOW = new Date(Date.UTC(2026, 10, 22, 23));
const FACTS: RequestFacts = {
  receivedAt: NOW,
  receivedAtIso: NOW.toISOString(),
  requestId: "req-layer",
  correlationId: "corr-layer",
  correlationFromHeader: false,
  userAgent: "observatory-tracker/0.1.0",
  ip: "203.0.113.7",
  service: "collector-default",
  stage: "dev",
};

const BATCH_CONTEXTS = [
  '{"library":{"name":"observatory-tracker","version":"0.1.0"},"service":"gallery","stage":"prod"}',
  '{"service":"Gallery"}',
  '{"Service Name":"x","appBuild":7}',
  '{"deep":{"b":[1,{"C d":2}],"e":null}}',
  '{"5":1,"library":"x"}',
  '{"user_agent":"claimed"}',
  '{"__proto__":{"polluted":true},"service":"s"}',
  '{"a b":1,"a_b":2}',
  '{"stage":"","correlation_id":"batch-corr"}',
  '{"correlation_id":"not a valid id"}',
  '{"tab\\tkey":"quote\\"d"}',
  '{"emoji":"😀","lone":"\\ud800"}',
];

const OWN_CONTEXTS = [
  undefined,
  "{}",
  '{"correlation_id":"c-1"}',
  '{"note":"quote\\"d and back\\\\slash"}',
  '{"note":"é 😀"}',
  '{"n":5}',
  '{"correlation_id":"c-2","requestPath":"/v1/x"}',
  '{"service":"own-service"}',
  '{"Service":"collides"}',
  '{"serviceName":"other","stage":"own-stage"}',
  '{"9":1}',
  '{"#9":1}',
  '{"user_agent":"spoofed","correlation_id":"c-3"}',
  '{"IP":"1.2.3.4"}',
  '{"__proto__":{"isAdmin":true},"app":"x"}',
  '{"x y":1,"x_y":2}',
  '{"nested":{"Deep Key":[1,{"k":"v"}]}}',
  '{"library":{"name":"other"}}',
  '{"a b":3}',
  '"not an object"',
  "[1]",
];

function eventJson(own: string | undefined, i: number): string {
  const context = own === undefined ? "" : `,"context":${own}`;
  return `{"event":"Image Viewed","user_id":"u-${i}","event_id":"e-${i}","timestamp":${NOW.getTime() - i},"properties":{"imageId":"img-${i}"}${context}}`;
}

type Outcome = { ok: true; line: string; record: string } | { ok: false; errors: string[] };

function outcome(
  validator: EventValidator,
  encode: ReturnType<typeof rawRecordEncoder>,
  raw: unknown,
  bodyBytes: number,
  layer?: Parameters<EventValidator["check"]>[4],
): Outcome {
  const verdict = validator.check(raw, undefined, NOW.getTime(), bodyBytes, layer);
  if (!verdict.ok) return { ok: false, errors: verdict.errors };
  return { ok: true, line: encode(verdict), record: JSON.stringify(toRawRecord(verdict, FACTS)) };
}

describe("a batch context conformed once as a layer", () => {
  it("gives every event the verdict and the stored line that merging it into the event gives", () => {
    let layered = 0;
    for (const batchJson of BATCH_CONTEXTS) {
      const sent = JSON.parse(batchJson) as Record<string, unknown>;
      const layer = contextLayer(sent);
      // As the collector does: a batch context that cannot be a layer is merged into each event.
      if (layer === "merge") continue;
      layered++;
      // One validator and one encoder per path for the whole batch, as in a request: what they reuse
      // from one event to the next must not leak into the next.
      const viaMerge = { validator: new EventValidator(), encode: rawRecordEncoder(FACTS) };
      const viaLayer = { validator: new EventValidator(), encode: rawRecordEncoder(FACTS) };
      OWN_CONTEXTS.forEach((own, i) => {
        const merged = JSON.parse(eventJson(own, i)) as Record<string, unknown>;
        merged.context = mergedContext(merged.context, sent);
        const expected = outcome(viaMerge.validator, viaMerge.encode, merged, 1000);
        const got = outcome(viaLayer.validator, viaLayer.encode, JSON.parse(eventJson(own, i)), 1000, layer);
        expect(got, `batch ${batchJson}, own ${own}`).toEqual(expected);
        if (got.ok) expect(got.line, `batch ${batchJson}, own ${own}`).toBe(got.record);
      });
    }
    // Most of the batch contexts above are layers; the rest exercise the merge.
    expect(layered).toBeGreaterThanOrEqual(7);
  });

  it("is refused as a layer when it could not sit under every event unchanged", () => {
    const layerOf = (json: string) => contextLayer(JSON.parse(json));
    expect(layerOf('{"service":"gallery"}')).toMatchObject({ innerJson: '"service":"gallery"' });
    expect(layerOf('{"Service Name":"x"}')).toMatchObject({ innerJson: '"service_name":"x"' });
    for (const json of [
      "{}",
      '{"5":1}',
      '{"user_agent":"x"}',
      '{"IP":"x"}',
      '{"request_id":"x"}',
      '{"__proto__":{}}',
      '{"a b":1,"a_b":2}',
      '{"":1}',
    ])
      expect(layerOf(json), json).toBe("merge");
  });

  it("counts the batch's context in the per-event size limit, as the merge does", () => {
    const sent = { library: { name: "observatory-tracker", version: "0.1.0" }, service: "gallery" };
    const layer = contextLayer(sent);
    if (layer === "merge") throw new Error("expected a layer");
    // Over the limit only with the batch's context merged in.
    const event = (own?: object) => ({
      event: "upload",
      user_id: "u",
      properties: { blob: "x".repeat(MAX_EVENT_BYTES - 100) },
      ...(own ? { context: own } : {}),
    });
    for (const own of [undefined, { correlation_id: "c-1" }]) {
      const alone = new EventValidator().check(event(own), undefined, NOW.getTime(), 2 * MAX_EVENT_BYTES);
      expect(alone.ok, "the event alone fits").toBe(true);
      const merged = event(own) as Record<string, unknown>;
      merged.context = mergedContext(merged.context, sent);
      const expected = new EventValidator().check(merged, undefined, NOW.getTime(), 2 * MAX_EVENT_BYTES);
      const got = new EventValidator().check(
        event(own),
        undefined,
        NOW.getTime(),
        2 * MAX_EVENT_BYTES,
        layer,
      );
      expect(got.ok).toBe(false);
      expect(got).toEqual({ ...expected, eventId: got.eventId });
      if (!got.ok) expect(got.errors[0]).toMatch(/^event is \d+ bytes; the limit is/);
    }
  });
});
