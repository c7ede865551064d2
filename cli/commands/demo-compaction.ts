/**
 * The demo's compaction step: runs the `compaction` job through the local Step Functions runner (the
 * same ASL as on AWS) over what the demo just sent, then answers every named query on the local
 * engine - the questions Athena answers in the deployed pipeline.
 */
import { join } from "node:path";
import cliProgress from "cli-progress";
import { getJob } from "../../etl/job-catalog.js";
import { LocalQueryEngine } from "../../local/query-engine.js";
import { runLocalJob } from "../../local/step-functions/local-etl.js";
import { NAMED_QUERIES } from "../../query/named-queries.js";
import type { DemoStep } from "./demo.js";

export const compactionDemoStep: DemoStep = {
  title: "Compaction (raw -> Parquet through the ETL runner) and the named queries",
  async run(context) {
    // The ledger lives in the stack's DynamoDB: the one this demo started, or the running dev's.
    const dynamodb = context.dynamodb;
    const bar = new cliProgress.SingleBar(
      { format: "  compaction chunks {bar} {value}/{total}", hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    try {
      const { runId, ledger } = await runLocalJob({
        job: getJob("compaction"),
        s3: context.s3,
        bucket: context.bucket,
        dynamodb,
        onMapProgress: (p) => {
          if (!started) bar.start(p.total_items, 0);
          started = true;
          bar.update(p.succeeded_items + p.failed_items);
        },
      });
      if (started) bar.stop();
      const summary = JSON.parse(ledger?.summary ?? "{}") as {
        output?: {
          objects_consumed?: number;
          rows_in?: number;
          duplicates_in_chunks?: number;
          duplicates_against_existing?: number;
          rows_by_table?: Record<string, number>;
          partitions_written?: number;
        };
      };
      const out = summary.output ?? {};
      context.print(
        `Run ${runId}: ${ledger?.status}. ${out.objects_consumed ?? 0} raw objects, ${out.rows_in ?? 0} lines, ` +
          `${(out.duplicates_in_chunks ?? 0) + (out.duplicates_against_existing ?? 0)} duplicates dropped, ${out.partitions_written ?? 0} partitions written.`,
      );
      const tableRows = Object.entries(out.rows_by_table ?? {}).map(([table, rows]) => ({
        table,
        new_rows: rows,
        location: `s3://${context.bucket}/tables/${table}/`,
      }));
      context.table(tableRows, ["table", "new_rows", "location"]);
      context.results.compaction = summary;
      context.report.compaction = { run_id: runId, status: ledger?.status ?? null, ...out };
    } finally {
      if (started) bar.stop();
    }

    const engine = await LocalQueryEngine.open({
      s3: context.s3,
      bucket: context.bucket,
      cacheDir: join(context.dataDir, "query-cache"),
    });
    const answers: Record<string, unknown[]> = {};
    context.report.named_queries = answers;
    try {
      for (const named of NAMED_QUERIES) {
        const result = await engine.query(named.sql);
        answers[named.name] = result.rows;
        context.print();
        context.print(`-- ${named.name}: ${named.description}`);
        context.table(
          result.rows.slice(0, 10),
          result.columns.map((c) => c.name),
        );
        if (result.rows.length > 10 && context.options.format === "table")
          context.print(`(${result.rows.length - 10} more rows: observatory query --named ${named.name})`);
      }
    } finally {
      engine.close();
    }
  },
};
