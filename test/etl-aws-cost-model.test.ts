// The EtlFleet cost model: the formula checked by hand on one case, and transitions counted on the
// definition the component really deploys.
import { describe, expect, it } from "vitest";
import {
  breakEvenItemsPerRun,
  costOf,
  HOURLY_BURSTY_JOB,
  happyPathTransitions,
  lambdaSeconds,
} from "../etl/aws-cost-model.js";
import { buildEtlDefinition, placeholderRefs } from "../etl/definition.js";

describe("EtlFleet cost model", () => {
  it("counts the transitions of a successful run on the generated definition", () => {
    const { definition } = buildEtlDefinition({ name: "costmodel" }, placeholderRefs("costmodel"));
    // Defaults, ApplyDefaults, StartRun, Plan, RecordPlan, ProcessItems, Finalize, RecordSucceeded, Done
    expect(happyPathTransitions(definition)).toBe(9);
  });

  it("prices 100 items in batches of 10 with EXPRESS children as computed by hand", () => {
    const c = costOf({
      ...HOURLY_BURSTY_JOB,
      itemsPerRun: 100,
      itemsPerBatch: 10,
      childExecutionType: "EXPRESS",
    });
    // A batch: 1 vCPU-s of work at 1024 MB = 1 * 1769/1024 = 1.7275 s of Lambda; Express bills 1.8 s at 64 MB.
    expect(lambdaSeconds(1, 1024)).toBeCloseTo(1.72754, 5);
    const expressChild = 0.000025 + 0.000001 + 1.8 * (64 / 1024) * 0.00001667;
    expect(c.childExecutionsPerRun).toBe(10);
    expect(c.stepFunctionsPerRun).toBeCloseTo(9 * 0.000025 + 10 * expressChild, 12);
    const gbSeconds = 10 * 1.7275390625 * 1 + (2 + 3) * 0.5;
    expect(c.lambdaPerRun).toBeCloseTo(gbSeconds * 0.0000133334 + 12 * 0.0000002, 12);
    expect(c.fleetPerMonth).toBeCloseTo((c.stepFunctionsPerRun + c.lambdaPerRun) * 730, 9);
    expect(c.instancePerMonth).toBeCloseTo(0.0168 * 730 + 8 * 0.08, 9);
    expect(c.instances).toBe(1);
  });

  it("STANDARD children pay their own transitions instead of Express request + duration", () => {
    const express = costOf({ ...HOURLY_BURSTY_JOB, itemsPerRun: 1000 });
    const standard = costOf({ ...HOURLY_BURSTY_JOB, itemsPerRun: 1000, childExecutionType: "STANDARD" });
    expect(standard.stepFunctionsPerRun).toBeCloseTo(9 * 0.000025 + 100 * 2 * 0.000025, 12);
    expect(standard.lambdaPerRun).toBe(express.lambdaPerRun);
  });

  it("sizes the instance baseline for the work and finds where the fleet stops being cheaper", () => {
    expect(costOf({ ...HOURLY_BURSTY_JOB, itemsPerRun: 100_000 }).instances).toBe(
      Math.ceil((100_000 * 0.1) / (0.4 * 3600)),
    );
    const breakEven = breakEvenItemsPerRun(HOURLY_BURSTY_JOB);
    expect(costOf({ ...HOURLY_BURSTY_JOB, itemsPerRun: breakEven - 1 }).instanceOverFleet).toBeGreaterThan(1);
    expect(costOf({ ...HOURLY_BURSTY_JOB, itemsPerRun: breakEven }).instanceOverFleet).toBeLessThanOrEqual(1);
  });
});
