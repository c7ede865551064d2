// The EtlFleet cost model (etl/aws-cost-model.ts) against its baseline, an always-on t4g.small doing
// the same hourly job, computed in this run from the formula and the definition the component deploys.
//   npm run bench -- etl-cost
import { breakEvenItemsPerRun, costOf, HOURLY_BURSTY_JOB, PRICES } from "../etl/aws-cost-model.js";

const usd = (n: number, digits = 2) => `$${n.toFixed(digits)}`;
const rows: string[] = [];
rows.push(
  "| items per hourly run | children | batch | Step Functions per run | Lambda per run | fleet per 1,000 items | fleet per month | t4g.small per month (instances) | instance / fleet |",
);
rows.push("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const [itemsPerRun, childExecutionType, itemsPerBatch] of [
  [100, "EXPRESS", 10],
  [1_000, "EXPRESS", 10],
  [1_000, "STANDARD", 10],
  [1_000, "EXPRESS", 100],
  [10_000, "EXPRESS", 10],
  [10_000, "EXPRESS", 100],
  [100_000, "EXPRESS", 100],
] as const) {
  const c = costOf({ ...HOURLY_BURSTY_JOB, itemsPerRun, childExecutionType, itemsPerBatch });
  rows.push(
    `| ${itemsPerRun.toLocaleString("en-US")} | ${childExecutionType} | ${itemsPerBatch} | ${usd(c.stepFunctionsPerRun, 5)} | ${usd(c.lambdaPerRun, 5)} | ${usd(c.fleetPer1000Items, 5)} | ${usd(c.fleetPerMonth)} | ${usd(c.instancePerMonth)} (${c.instances}) | ${c.instanceOverFleet.toFixed(2)}x |`,
  );
}
console.log(
  `EtlFleet vs always-on t4g.small, hourly job, ${HOURLY_BURSTY_JOB.cpuSecondsPerItem} vCPU-s per item, workers ${HOURLY_BURSTY_JOB.workerMemoryMb} MB arm64`,
);
console.log(`prices: ${JSON.stringify(PRICES)}`);
console.log(rows.join("\n"));
for (const itemsPerBatch of [10, 100]) {
  console.log(
    `break-even (EXPRESS children, batch ${itemsPerBatch}): ${breakEvenItemsPerRun({ ...HOURLY_BURSTY_JOB, itemsPerBatch }).toLocaleString("en-US")} items per hourly run`,
  );
}
