/**
 * What an EtlFleet run costs on AWS, against an always-on instance doing the same hourly job.
 * The formula is in docs/etl-cost-model.md; bench/etl-cost.bench.ts prints the table. Transitions
 * are counted on the definition buildEtlDefinition really generates, not assumed.
 */
import type { State, StateMachineDefinition } from "./asl.js";
import { buildEtlDefinition, placeholderRefs, STATE } from "./definition.js";
import type { EtlJobSpec } from "./job-spec.js";

/** us-east-1 list prices (USD), November 2026; change them here, every number follows. */
export const PRICES = {
  /** Step Functions Standard: $0.025 per 1,000 state transitions. */
  standardTransition: 0.025 / 1000,
  /** Step Functions Express: $1.00 per million requests. */
  expressRequest: 1 / 1_000_000,
  /** Express duration, first tier: $0.00001667 per GB-second, billed in 64 MB chunks and 100 ms steps. */
  expressGbSecond: 0.00001667,
  /** Lambda arm64: $0.0000133334 per GB-second (first tier) and $0.20 per million requests. */
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1_000_000,
  /** t4g.small on demand: $0.0168 an hour; its 8 GiB gp3 root volume: $0.08 per GB-month. */
  t4gSmallHour: 0.0168,
  gp3GbMonth: 0.08,
} as const;

export const HOURS_PER_MONTH = 730;
/** Lambda gives a function one full vCPU at 1,769 MB; below that its CPU share scales with memory. */
export const LAMBDA_MB_PER_VCPU = 1769;
/** t4g.small: 2 vCPUs, 20% baseline each, so 0.4 vCPU sustained on average (bursts spend earned credits). */
export const T4G_SMALL_SUSTAINED_VCPU = 0.4;
export const T4G_SMALL_ROOT_GB = 8;
/** An Express child with a small payload fits in the first 64 MB chunk. */
const EXPRESS_MEMORY_GB = 64 / 1024;

export interface CostParameters {
  itemsPerRun: number;
  runsPerMonth: number;
  /** CPU time one item needs on one full vCPU. */
  cpuSecondsPerItem: number;
  itemsPerBatch: number;
  workerMemoryMb: number;
  plannerSeconds: number;
  finalizerSeconds: number;
  /** Planner and finalizer memory. */
  controlMemoryMb: number;
  childExecutionType: "EXPRESS" | "STANDARD";
}

export interface CostBreakdown {
  parentTransitionsPerRun: number;
  childExecutionsPerRun: number;
  stepFunctionsPerRun: number;
  lambdaPerRun: number;
  fleetPerRun: number;
  fleetPer1000Items: number;
  fleetPerMonth: number;
  /** Always-on t4g.small instances the same work needs (sized for the average hour). */
  instances: number;
  instancePerMonth: number;
  /** instance cost / fleet cost: above 1 the fleet is cheaper. */
  instanceOverFleet: number;
}

/** States a successful run enters, following Next from StartAt (Map children counted separately). */
export function happyPathTransitions(definition: StateMachineDefinition): number {
  let count = 0;
  let name: string | undefined = definition.StartAt;
  const seen = new Set<string>();
  while (name !== undefined) {
    if (seen.has(name)) throw new Error(`the happy path loops at ${name}`);
    seen.add(name);
    const state: State | undefined = definition.States[name];
    if (!state) throw new Error(`no state ${name}`);
    count++;
    name = "Next" in state ? state.Next : undefined;
  }
  return count;
}

/** Lambda's billed seconds for work needing `cpuSeconds` of one vCPU at `memoryMb` (1 ms billing). */
export function lambdaSeconds(cpuSeconds: number, memoryMb: number): number {
  return cpuSeconds * Math.max(1, LAMBDA_MB_PER_VCPU / memoryMb);
}

export function costOf(p: CostParameters): CostBreakdown {
  const spec: EtlJobSpec = {
    name: "costmodel",
    childExecutionType: p.childExecutionType,
    batching: { maxItems: p.itemsPerBatch },
  };
  const { definition } = buildEtlDefinition(spec, placeholderRefs("costmodel"));
  const parentTransitionsPerRun = happyPathTransitions(definition);
  const childExecutionsPerRun = Math.ceil(p.itemsPerRun / p.itemsPerBatch);
  const batchSeconds = lambdaSeconds(p.cpuSecondsPerItem * p.itemsPerBatch, p.workerMemoryMb);

  // A Distributed Map is charged one transition per child execution it starts, plus the child's own price.
  let children = childExecutionsPerRun * PRICES.standardTransition;
  if (p.childExecutionType === "EXPRESS") {
    const billedSeconds = Math.ceil(batchSeconds * 10) / 10;
    children +=
      childExecutionsPerRun *
      (PRICES.expressRequest + billedSeconds * EXPRESS_MEMORY_GB * PRICES.expressGbSecond);
  } else {
    // A STANDARD child pays its own transitions (the worker Task: one).
    const map = definition.States[STATE.process];
    if (map?.Type !== "Map") throw new Error(`the generated definition has no ${STATE.process} Map`);
    const childStates = happyPathTransitions({
      StartAt: map.ItemProcessor.StartAt,
      States: map.ItemProcessor.States,
    });
    children += childExecutionsPerRun * childStates * PRICES.standardTransition;
  }
  const stepFunctionsPerRun = parentTransitionsPerRun * PRICES.standardTransition + children;

  const gbSeconds =
    childExecutionsPerRun * batchSeconds * (p.workerMemoryMb / 1024) +
    (p.plannerSeconds + p.finalizerSeconds) * (p.controlMemoryMb / 1024);
  const lambdaPerRun =
    gbSeconds * PRICES.lambdaArmGbSecond + (childExecutionsPerRun + 2) * PRICES.lambdaRequest;

  const fleetPerRun = stepFunctionsPerRun + lambdaPerRun;
  const fleetPerMonth = fleetPerRun * p.runsPerMonth;
  const cpuSecondsPerHour = (p.itemsPerRun * p.cpuSecondsPerItem * p.runsPerMonth) / HOURS_PER_MONTH;
  const instances = Math.max(1, Math.ceil(cpuSecondsPerHour / (T4G_SMALL_SUSTAINED_VCPU * 3600)));
  const instancePerMonth =
    instances * (PRICES.t4gSmallHour * HOURS_PER_MONTH + T4G_SMALL_ROOT_GB * PRICES.gp3GbMonth);
  return {
    parentTransitionsPerRun,
    childExecutionsPerRun,
    stepFunctionsPerRun,
    lambdaPerRun,
    fleetPerRun,
    fleetPer1000Items: (fleetPerRun / p.itemsPerRun) * 1000,
    fleetPerMonth,
    instances,
    instancePerMonth,
    instanceOverFleet: instancePerMonth / fleetPerMonth,
  };
}

/** The job the docs price: hourly, 0.1 vCPU-second per item, 10 items a batch, 1 GB workers. */
export const HOURLY_BURSTY_JOB: Omit<CostParameters, "itemsPerRun"> = {
  runsPerMonth: HOURS_PER_MONTH,
  cpuSecondsPerItem: 0.1,
  itemsPerBatch: 10,
  workerMemoryMb: 1024,
  plannerSeconds: 2,
  finalizerSeconds: 3,
  controlMemoryMb: 512,
  childExecutionType: "EXPRESS",
};

/** Items per run above which one always-on t4g.small costs less than the fleet (the instance still keeps up). */
export function breakEvenItemsPerRun(p: Omit<CostParameters, "itemsPerRun">): number {
  let low = 1;
  let high = 10_000_000;
  if (costOf({ ...p, itemsPerRun: high }).instanceOverFleet > 1) return Number.POSITIVE_INFINITY;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (costOf({ ...p, itemsPerRun: mid }).instanceOverFleet > 1) low = mid;
    else high = mid;
  }
  return high;
}
