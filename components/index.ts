// Public API of the package's Pulumi side. One line per component; each area adds its own.
export * from "./bundle.js";
export * from "./duckdb-layer.js";
export * from "./etl-fleet.js";
export * from "./iam.js";
export * from "./lambda-function.js";
export * from "./log-centralizer.js";
export * from "./metric-pipeline.js";
export * from "./transform.js";
