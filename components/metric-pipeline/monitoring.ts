import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { COLLECTOR_LOG_FIELDS, COLLECTOR_REFUSED_MESSAGE } from "../../contracts/collector-log.js";

/** Alarm evaluation window: five minutes smooths single bad clients without hiding an outage. */
export const DEFAULT_ALARM_PERIOD_SECONDS = 300;
/** Share of rejected events above which someone should look (a client shipping bad data). */
export const DEFAULT_REJECTED_RATIO_THRESHOLD = 0.05;
/** Any 5xx from the API means lost availability (bad input never gets a 5xx): alarm on the first. */
export const DEFAULT_API_5XX_THRESHOLD = 1;

/**
 * Compaction that has not started for this many hours means data stops becoming queryable (a broken
 * schedule or role fails silently: no run, so no failed run). Three hourly ticks missed is a page.
 */
export const DEFAULT_COMPACTION_STALE_HOURS = 3;

export const ACCEPTED_METRIC = "AcceptedEvents";
export const REJECTED_METRIC = "RejectedEvents";
export const REFUSED_METRIC = "RefusedBatches";

export interface MonitoringArgs {
  /** Metric namespace of this pipeline's custom metrics (unique per stack and pipeline). */
  namespace: string;
  apiId: pulumi.Input<string>;
  collectorFunctionName: pulumi.Input<string>;
  collectorLogGroupName: pulumi.Input<string>;
  /** SNS topic every alarm notifies. */
  alarmTopicArn: pulumi.Input<string>;
  /** The compaction fleet's state machine, for its executions widget. */
  compactionStateMachineArn?: pulumi.Input<string>;
  /** The Athena workgroup, for its bytes-scanned widget. */
  workgroupName?: pulumi.Input<string>;
  periodSeconds?: number;
  rejectedRatioThreshold?: number;
  api5xxThreshold?: number;
  /** Hours without a compaction run start before alarming (only with a compaction state machine). */
  compactionStaleHours?: number;
}

export interface Monitoring {
  acceptedFilter: aws.cloudwatch.LogMetricFilter;
  rejectedFilter: aws.cloudwatch.LogMetricFilter;
  refusedFilter: aws.cloudwatch.LogMetricFilter;
  api5xxAlarm: aws.cloudwatch.MetricAlarm;
  collectorErrorsAlarm: aws.cloudwatch.MetricAlarm;
  rejectedRatioAlarm: aws.cloudwatch.MetricAlarm;
  compactionStaleAlarm?: aws.cloudwatch.MetricAlarm;
  dashboard: aws.cloudwatch.Dashboard;
}

/**
 * Alarms to SNS (API 5xx, collector errors, rejected-event ratio by metric math over two log metric
 * filters on the collector's per-request line) and a dashboard. Every resource is a child of `parent`.
 */
export function createMonitoring(name: string, args: MonitoringArgs, parent: pulumi.Resource): Monitoring {
  const opts = { parent };
  const period = args.periodSeconds ?? DEFAULT_ALARM_PERIOD_SECONDS;
  const topicArn = args.alarmTopicArn;

  // Counts from the per-request "batch stored" line; the pattern matches only lines with the field.
  const filter = (suffix: string, field: string, metric: string) =>
    new aws.cloudwatch.LogMetricFilter(
      `${name}-${suffix}`,
      {
        logGroupName: args.collectorLogGroupName,
        // Matches only the per-request line: other lines have no such numeric field.
        pattern: `{ $.${field} >= 0 }`,
        metricTransformation: { name: metric, namespace: args.namespace, value: `$.${field}`, unit: "Count" },
      },
      opts,
    );
  const acceptedFilter = filter("accepted-events", COLLECTOR_LOG_FIELDS.accepted, ACCEPTED_METRIC);
  const rejectedFilter = filter("rejected-events", COLLECTOR_LOG_FIELDS.rejected, REJECTED_METRIC);
  // Whole bodies refused (bad key, not a batch, too large): counted apart, they carry no event counts.
  const refusedFilter = new aws.cloudwatch.LogMetricFilter(
    `${name}-refused-batches`,
    {
      logGroupName: args.collectorLogGroupName,
      pattern: `{ $.message = "${COLLECTOR_REFUSED_MESSAGE}" }`,
      metricTransformation: { name: REFUSED_METRIC, namespace: args.namespace, value: "1", unit: "Count" },
    },
    opts,
  );

  const alarmActions = [topicArn];
  const api5xxAlarm = new aws.cloudwatch.MetricAlarm(
    `${name}-api-5xx`,
    {
      alarmDescription: "The collector API answered 5xx (storage failing or the collector crashing).",
      namespace: "AWS/ApiGateway",
      metricName: "5xx",
      dimensions: { ApiId: args.apiId },
      statistic: "Sum",
      period,
      evaluationPeriods: 1,
      threshold: args.api5xxThreshold ?? DEFAULT_API_5XX_THRESHOLD,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
      alarmActions,
      okActions: alarmActions,
    },
    opts,
  );
  const collectorErrorsAlarm = new aws.cloudwatch.MetricAlarm(
    `${name}-collector-errors`,
    {
      alarmDescription: "The collector Lambda threw (an invocation error, not a rejected event).",
      namespace: "AWS/Lambda",
      metricName: "Errors",
      dimensions: { FunctionName: args.collectorFunctionName },
      statistic: "Sum",
      period,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      treatMissingData: "notBreaching",
      alarmActions,
      okActions: alarmActions,
    },
    opts,
  );
  const metric = (id: string, metricName: string) => ({
    id,
    returnData: false,
    metric: { namespace: args.namespace, metricName, period, stat: "Sum" },
  });
  const rejectedRatioAlarm = new aws.cloudwatch.MetricAlarm(
    `${name}-rejected-ratio`,
    {
      alarmDescription:
        "Share of rejected events over the period is above the threshold (see table quarantine).",
      metricQueries: [
        metric("accepted", ACCEPTED_METRIC),
        metric("rejected", REJECTED_METRIC),
        {
          id: "ratio",
          label: "rejected / (accepted + rejected)",
          // IF guards the empty period: no traffic is not a 100% rejection.
          expression: "IF((accepted + rejected) > 0, rejected / (accepted + rejected), 0)",
          returnData: true,
        },
      ],
      evaluationPeriods: 1,
      threshold: args.rejectedRatioThreshold ?? DEFAULT_REJECTED_RATIO_THRESHOLD,
      comparisonOperator: "GreaterThanThreshold",
      treatMissingData: "notBreaching",
      alarmActions,
      okActions: alarmActions,
    },
    opts,
  );

  const region = aws.getRegionOutput({}, opts).region;
  const widget = (
    title: string,
    x: number,
    y: number,
    metrics: unknown[],
    extra: Record<string, unknown> = {},
  ) => ({
    type: "metric",
    x,
    y,
    width: 12,
    height: 6,
    properties: { title, region, period, stat: "Sum", view: "timeSeries", metrics, ...extra },
  });
  const dashboard = new aws.cloudwatch.Dashboard(
    `${name}-dashboard`,
    {
      dashboardName: `${name}-${pulumi.getStack()}`.replace(/[^A-Za-z0-9_-]/g, "-"),
      dashboardBody: pulumi.jsonStringify({
        widgets: [
          widget("Collector requests and errors", 0, 0, [
            ["AWS/ApiGateway", "Count", "ApiId", args.apiId],
            ["AWS/ApiGateway", "4xx", "ApiId", args.apiId],
            ["AWS/ApiGateway", "5xx", "ApiId", args.apiId],
          ]),
          widget("Events accepted / rejected", 12, 0, [
            [args.namespace, ACCEPTED_METRIC],
            [args.namespace, REJECTED_METRIC],
            [args.namespace, REFUSED_METRIC],
          ]),
          widget(
            "Collector latency (p50, p99)",
            0,
            6,
            [
              ["AWS/ApiGateway", "Latency", "ApiId", args.apiId, { stat: "p50" }],
              ["AWS/ApiGateway", "Latency", "ApiId", args.apiId, { stat: "p99" }],
            ],
            { stat: "p99" },
          ),
          widget("Collector Lambda", 12, 6, [
            ["AWS/Lambda", "Invocations", "FunctionName", args.collectorFunctionName],
            ["AWS/Lambda", "Errors", "FunctionName", args.collectorFunctionName],
            ["AWS/Lambda", "Throttles", "FunctionName", args.collectorFunctionName],
          ]),
          ...(args.compactionStateMachineArn
            ? [
                widget("Compaction runs", 0, 12, [
                  ["AWS/States", "ExecutionsSucceeded", "StateMachineArn", args.compactionStateMachineArn],
                  ["AWS/States", "ExecutionsFailed", "StateMachineArn", args.compactionStateMachineArn],
                  ["AWS/States", "ExecutionsTimedOut", "StateMachineArn", args.compactionStateMachineArn],
                ]),
              ]
            : []),
          ...(args.workgroupName
            ? [
                // Athena publishes per (QueryState, QueryType, WorkGroup): a search sums this workgroup's.
                widget("Athena bytes scanned", 12, 12, [
                  {
                    expression: pulumi.interpolate`SUM(SEARCH('{AWS/Athena,QueryState,QueryType,WorkGroup} WorkGroup="${args.workgroupName}" MetricName="ProcessedBytes"', 'Sum', ${period}))`,
                    id: "scanned",
                    label: "ProcessedBytes",
                  },
                ]),
              ]
            : []),
        ],
      }),
    },
    opts,
  );

  const staleHours = args.compactionStaleHours ?? DEFAULT_COMPACTION_STALE_HOURS;
  if (!Number.isInteger(staleHours) || staleHours < 1) {
    throw new Error(`compactionStaleHours must be a whole number of hours >= 1, got ${staleHours}`);
  }
  const compactionStaleAlarm = args.compactionStateMachineArn
    ? new aws.cloudwatch.MetricAlarm(
        `${name}-compaction-stale`,
        {
          alarmDescription: `Compaction has not started for ${staleHours} h: new events are not becoming queryable (check the schedule and its role).`,
          namespace: "AWS/States",
          metricName: "ExecutionsStarted",
          dimensions: { StateMachineArn: args.compactionStateMachineArn },
          statistic: "Sum",
          period: 3600,
          evaluationPeriods: staleHours,
          threshold: 1,
          comparisonOperator: "LessThanThreshold",
          // No datapoint is exactly the failure this alarm exists for.
          treatMissingData: "breaching",
          alarmActions,
          okActions: alarmActions,
        },
        opts,
      )
    : undefined;

  return {
    compactionStaleAlarm,
    acceptedFilter,
    rejectedFilter,
    refusedFilter,
    api5xxAlarm,
    collectorErrorsAlarm,
    rejectedRatioAlarm,
    dashboard,
  };
}
