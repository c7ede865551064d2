import type * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type ColumnSpec, PARTITION_KEYS } from "../../contracts/events-table.js";
import { tablePrefix } from "../../contracts/storage-layout.js";

/** Hive names of the Parquet formats Athena reads; the SerDe is the one Athena documents for Parquet. */
export const PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat";
export const PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat";
export const PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe";

/**
 * Default range of the `dt` projection: a year back (older partitions need a wider range, given as an
 * arg) to one day ahead, because the collector accepts event times up to a day in the future.
 * A narrower range means fewer partitions for Athena to enumerate on queries without a `dt` filter.
 */
export const DEFAULT_DT_PROJECTION_RANGE = "NOW-1YEARS,NOW+1DAYS";

export interface ProjectedTableSpec {
  /** Table name, also its S3 prefix: `tables/<name>/`. */
  name: string;
  description: string;
  columns: ColumnSpec[];
  /** `dt` projection range, Athena syntax (`2024-01-01,NOW` or `NOW-1YEARS,NOW+1DAYS`). */
  dtRange?: string;
}

/** Glue refuses a column comment longer than this (CreateTable: Column.Comment, 0-255). */
export const GLUE_COLUMN_COMMENT_MAX = 255;

/** Glue column list from the shared column specs: the worker writes exactly these. */
export function glueColumns(columns: ColumnSpec[]): { name: string; type: string; comment?: string }[] {
  return columns.map((c) => {
    if (c.comment.length > GLUE_COLUMN_COMMENT_MAX) {
      throw new Error(
        `column ${c.name}: comment is ${c.comment.length} characters, Glue allows ${GLUE_COLUMN_COMMENT_MAX}`,
      );
    }
    return { name: c.name, type: c.glueType, ...(c.comment ? { comment: c.comment } : {}) };
  });
}

/** Table parameters of every external table of ZSTD-compressed Parquet the workers write. */
export const PARQUET_TABLE_PARAMETERS = {
  EXTERNAL: "TRUE",
  classification: "parquet",
  "parquet.compression": "ZSTD",
} as const;

/** Storage descriptor of a Parquet table under `tables/<table>/` with these columns. */
export function parquetStorageDescriptor(
  bucketName: pulumi.Input<string>,
  table: string,
  columns: ColumnSpec[],
): aws.types.input.glue.CatalogTableStorageDescriptor {
  return {
    location: pulumi.interpolate`s3://${bucketName}/${tablePrefix(table)}`,
    inputFormat: PARQUET_INPUT_FORMAT,
    outputFormat: PARQUET_OUTPUT_FORMAT,
    serDeInfo: {
      name: "parquet",
      serializationLibrary: PARQUET_SERDE,
      parameters: { "serialization.format": "1" },
    },
    columns: glueColumns(columns),
  };
}

/** Template Athena fills with projected values; `${dt}` and `${hour}` are Athena's, not JavaScript's. */
export function locationTemplate(bucketName: string, table: string): string {
  return `s3://${bucketName}/${tablePrefix(table)}dt=\${dt}/hour=\${hour}/`;
}

/** The `dt` date projection (yyyy-MM-dd, one a day) shared by every table partitioned by day. */
export function dtProjectionParameters(dtRange: string): Record<string, string> {
  return {
    "projection.enabled": "true",
    "projection.dt.type": "date",
    "projection.dt.format": "yyyy-MM-dd",
    "projection.dt.range": dtRange,
    "projection.dt.interval": "1",
    "projection.dt.interval.unit": "DAYS",
  };
}

/**
 * Partition projection properties: Athena computes partitions from these instead of a crawler or a
 * partition-adding Lambda. `dt` is a date (yyyy-MM-dd, one a day), `hour` an integer 0-23 written
 * with two digits, so `hour=07` matches the `HH` the worker writes.
 */
export function projectionParameters(
  bucketName: string,
  table: string,
  dtRange: string,
): Record<string, string> {
  return {
    ...dtProjectionParameters(dtRange),
    "projection.hour.type": "integer",
    "projection.hour.range": "0,23",
    "projection.hour.digits": "2",
    "storage.location.template": locationTemplate(bucketName, table),
  };
}

/** Args of an external Parquet table with partition projection over `tables/<name>/dt=/hour=/`. */
export function projectedTableArgs(
  databaseName: pulumi.Input<string>,
  bucketName: pulumi.Input<string>,
  spec: ProjectedTableSpec,
): aws.glue.CatalogTableArgs {
  const dtRange = spec.dtRange ?? DEFAULT_DT_PROJECTION_RANGE;
  return {
    name: spec.name,
    databaseName,
    description: spec.description,
    tableType: "EXTERNAL_TABLE",
    parameters: pulumi.output(bucketName).apply((bucket) => ({
      ...PARQUET_TABLE_PARAMETERS,
      ...projectionParameters(bucket, spec.name, dtRange),
    })),
    partitionKeys: glueColumns(PARTITION_KEYS),
    storageDescriptor: parquetStorageDescriptor(bucketName, spec.name, spec.columns),
  };
}
