import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PACKAGE_ROOT } from "./bundle.js";
import { LAMBDA_RUNTIME } from "./lambda-function.js";
import { type Transform, transform } from "./transform.js";

export type LambdaArchitecture = "arm64" | "x86_64";

/** Node's name for each Lambda architecture: the suffix of DuckDB's native binding package. */
export const NODE_ARCH: Record<LambdaArchitecture, string> = { arm64: "arm64", x86_64: "x64" };

/**
 * What a layer must hold for `import "@duckdb/node-api"` to work in Lambda: the API, the loader,
 * the native binding built for the architecture (glibc: Lambda's Amazon Linux 2023), and the loader's
 * libc probe. Lambda mounts layers at /opt, and /opt/nodejs/node_modules is on the module path.
 */
export function duckdbLayerPackages(architecture: LambdaArchitecture): string[] {
  return [
    "@duckdb/node-api",
    "@duckdb/node-bindings",
    `@duckdb/node-bindings-linux-${NODE_ARCH[architecture]}`,
    "detect-libc",
  ];
}

/** Where `npm run build:layer` puts a layer's content (the directory holding `nodejs/`). */
export function defaultDuckdbLayerDirectory(architecture: LambdaArchitecture): string {
  return path.join(PACKAGE_ROOT, "dist", "layers", `duckdb-${architecture}`);
}

/**
 * Check that `directory` is a layer for `architecture`, with one DuckDB version throughout.
 * Returns that version; throws with the command that builds the layer when something is missing.
 */
export function checkDuckdbLayerDirectory(directory: string, architecture: LambdaArchitecture): string {
  const build = `run \`npm run build:layer -- --arch ${architecture}\` first`;
  const versions = new Set<string>();
  for (const pkg of duckdbLayerPackages(architecture)) {
    const manifest = path.join(directory, "nodejs", "node_modules", pkg, "package.json");
    if (!existsSync(manifest))
      throw new Error(`DuckDB layer ${directory} lacks ${pkg} (${manifest}): ${build}`);
    if (pkg.startsWith("@duckdb/"))
      versions.add((JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version);
  }
  const binding = path.join(
    directory,
    "nodejs",
    "node_modules",
    `@duckdb/node-bindings-linux-${NODE_ARCH[architecture]}`,
    "duckdb.node",
  );
  if (!existsSync(binding))
    throw new Error(`DuckDB layer ${directory} lacks the native binding ${binding}: ${build}`);
  if (versions.size !== 1)
    throw new Error(`DuckDB layer ${directory} mixes versions ${[...versions].join(", ")}: ${build}`);
  return [...versions][0] as string;
}

export interface DuckdbLayerArgs {
  /** Default arm64, like every Observatory function. */
  architecture?: LambdaArchitecture;
  /** Layer content built by scripts/build-duckdb-layer.ts; default dist/layers/duckdb-<arch>. */
  directory?: string;
  transform?: { layer?: Transform<aws.lambda.LayerVersionArgs> };
}

/**
 * DuckDB's native module as a Lambda layer for one architecture (`observatory:aws:DuckdbLayer`).
 * The content is built ahead (`npm run build:layer`), because the arm64 binding cannot be installed
 * on an x86_64 machine by `npm install`: the build script fetches it with `npm pack`.
 */
export class DuckdbLayer extends pulumi.ComponentResource {
  readonly layer: aws.lambda.LayerVersion;
  readonly arn: pulumi.Output<string>;
  readonly architecture: LambdaArchitecture;
  readonly duckdbVersion: string;

  constructor(name: string, args: DuckdbLayerArgs = {}, opts?: pulumi.ComponentResourceOptions) {
    super("observatory:aws:DuckdbLayer", name, {}, opts);
    this.architecture = args.architecture ?? "arm64";
    const directory = args.directory ?? defaultDuckdbLayerDirectory(this.architecture);
    this.duckdbVersion = checkDuckdbLayerDirectory(directory, this.architecture);

    this.layer = new aws.lambda.LayerVersion(
      ...transform(
        args.transform?.layer,
        `${name}-layer`,
        {
          layerName: `${name}-duckdb-${this.architecture}`.replace(/[^A-Za-z0-9_-]/g, "-"),
          description: `@duckdb/node-api ${this.duckdbVersion} for ${this.architecture}`,
          code: new pulumi.asset.FileArchive(directory),
          compatibleRuntimes: [LAMBDA_RUNTIME],
          compatibleArchitectures: [this.architecture],
          licenseInfo: "MIT",
        },
        { parent: this },
      ),
    );
    this.arn = this.layer.arn;
    this.registerOutputs({ arn: this.arn });
  }
}
