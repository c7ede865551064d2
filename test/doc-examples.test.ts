/**
 * Every ```ts example in docs/ (components and topics) and README.md type-checks against this
 * package, with the project's own compiler options. Each example is checked where it says it lives
 * (the repository root, infra/, a job's folder), as a virtual file: nothing is written to the tree.
 * What an example leaves undeclared (`bucket`, `analystRole`, a helper of the reader's) is declared
 * in SETUP below, after the example, so that error lines are the example's own lines.
 * An example with no SETUP entry is checked as it is: a new example is covered as soon as it is written.
 * (The README's app example has its own fixture: test/readme.test.ts.)
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

interface Example {
  /** `docs/components/etl-fleet.md#2`: the file and the example's number in it (from 1). */
  id: string;
  /** Line of the example's first code line in the Markdown file (from 1). */
  line: number;
  code: string;
}

interface Setup {
  /** The folder (from the repository root) the example's relative imports start from. */
  home?: string;
  /** Declarations of what the example uses without defining it. */
  declarations?: string;
  /** Other virtual modules beside the example, by file name (e.g. the reader's `./event-schemas.js`). */
  modules?: Record<string, string>;
}

const AWS = `import type * as aws from "@pulumi/aws";`;
const SETUP: Record<string, Setup> = {
  "docs/components/etl-fleet.md#2": {
    home: "infra",
    declarations: `import { EtlFleet } from "observatory";`,
  },
  "docs/components/lambda-function.md#1": {
    declarations: `${AWS}
import type { DuckdbLayer } from "observatory";
declare const bucket: aws.s3.Bucket;
declare const config: pulumi.Config;
declare const duckdb: DuckdbLayer;`,
  },
  "docs/components/log-centralizer.md#1": {
    declarations: `${AWS}
import type { ServiceLogSource } from "observatory";
declare const analystRole: aws.iam.Role;
declare const checkoutService: ServiceLogSource;`,
  },
  "docs/components/log-centralizer.md#2": {
    declarations: `${AWS}
import { LogCentralizer } from "observatory";
declare const analystRole: aws.iam.Role;`,
  },
  "docs/components/metric-pipeline.md#1": {
    modules: {
      "event-schemas.ts": `import type { EventSchema } from "./contracts/event-schema.js";
export declare const schemas: EventSchema[];`,
    },
  },
  "docs/components/metric-pipeline.md#2": {
    declarations: `import * as aws from "@pulumi/aws";
import type { MetricPipeline } from "observatory";
declare const analyst: aws.iam.Role;
declare const metrics: MetricPipeline;`,
  },
  "docs/collector.md#1": {
    declarations: `import type { S3Client } from "@aws-sdk/client-s3";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { DEMO_EVENT_SCHEMAS } from "./contracts/event-schema.js";
declare const s3: S3Client;
declare const apiGatewayEvent: APIGatewayProxyEventV2;`,
  },
  "docs/etl-local-runner.md#1": {
    home: "etl/thumbnails",
    declarations: `import type { S3Client } from "@aws-sdk/client-s3";
import type { JsonValue } from "../contracts.js";
declare function listImages(s3: S3Client, bucket: string, input: JsonValue): Promise<string[]>;
declare function resize(s3: S3Client, items: { id: string; key: string }[]): Promise<number>;`,
  },
  "docs/logging.md#2": {
    // SQS and SNS clients are not dependencies of this package: their commands' input shapes, as declared by the AWS SDK.
    declarations: `import { SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
type MessageAttributes = Record<string, { DataType: string; StringValue?: string }>;
declare class SendMessageCommand { constructor(input: { QueueUrl: string; MessageBody: string; MessageAttributes?: MessageAttributes }) }
declare class PublishCommand { constructor(input: { TopicArn: string; Message: string; MessageAttributes?: MessageAttributes }) }
declare const sqs: { send(command: SendMessageCommand): Promise<unknown> };
declare const sns: { send(command: PublishCommand): Promise<unknown> };
declare const sfn: SFNClient;
declare const QueueUrl: string, MessageBody: string, TopicArn: string, Message: string, stateMachineArn: string, job: string;`,
  },
  "docs/query.md#1": {
    declarations: `import type { S3Client } from "@aws-sdk/client-s3";
import { AthenaClient } from "@aws-sdk/client-athena";
declare const s3: S3Client;
declare const bucket: string;
declare const sql: string;`,
  },
  "docs/local-stack.md#2": {
    declarations: `import type { LocalStackCore, LocalStackExtra } from "./local/stack.js";
declare function runCompaction(core: LocalStackCore): Promise<void>;`,
  },
  "docs/local-stack.md#1": { declarations: "declare const tmp: string;" },
};

/** Each component page names every argument of its component (its Args type, from "observatory"). */
const COMPONENT_ARGS: Record<string, string> = {
  "docs/components/metric-pipeline.md": "MetricPipelineArgs",
  "docs/components/etl-fleet.md": "EtlFleetArgs",
  "docs/components/log-centralizer.md": "LogCentralizerArgs",
  "docs/components/lambda-function.md": "LambdaFunctionArgs",
  "docs/components/duckdb-layer.md": "DuckdbLayerArgs",
};

function markdownFiles(): string[] {
  const docs = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return path === join("docs", "benchmarks") ? [] : docs(path);
      return entry.name.endsWith(".md") ? [path] : [];
    });
  return ["README.md", ...docs("docs")];
}

/** The ```ts blocks of a Markdown file (the README's app example is test/readme.test.ts's). */
function examplesOf(file: string): Example[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== "```ts") continue;
    const end = lines.findIndex((line, j) => j > i && line.trim().startsWith("```"));
    examples.push({
      id: `${file}#${examples.length + 1}`,
      line: i + 2,
      code: lines.slice(i + 1, end).join("\n"),
    });
    i = end;
  }
  const appExample = readFileSync(join(ROOT, "test/fixtures/readme-app-example.ts"), "utf8")
    .split("// README-EXAMPLE-START\n")[1]!
    .split("// README-EXAMPLE-END")[0]!;
  return examples.filter((example) => `${example.code}\n` !== appExample);
}

interface Checked {
  /** Type errors of each example, as `docs/x.md:<line>: message`. */
  errors: Map<string, string[]>;
  /** The property names of each Args type of COMPONENT_ARGS. */
  args: Map<string, string[]>;
}

/** One compiler program for every example and the components' Args types (it is the slow part). */
function check(examples: Example[]): Checked {
  const config = ts.readConfigFile(join(ROOT, "tsconfig.json"), ts.sys.readFile);
  const options = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT).options;
  const virtual = new Map<string, string>();
  const exampleOf = new Map<string, Example>();
  for (const [n, example] of examples.entries()) {
    const setup = SETUP[example.id] ?? {};
    const home = join(ROOT, setup.home ?? ".");
    const path = join(home, `__doc_example_${n}.ts`);
    // After the example (its lines keep their numbers); `export {}` makes every example a module.
    virtual.set(path, `${example.code}\n${setup.declarations ?? ""}\nexport {};\n`);
    exampleOf.set(path, example);
    for (const [name, text] of Object.entries(setup.modules ?? {})) virtual.set(join(home, name), text);
  }
  const argsFile = join(ROOT, "__doc_component_args.ts");
  const argTypes = Object.values(COMPONENT_ARGS);
  virtual.set(
    argsFile,
    `import type { ${argTypes.join(", ")} } from "observatory";\n${argTypes.map((t) => `declare const ${t}: ${t};`).join("\n")}\nexport {};\n`,
  );
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (file, language, ...rest) => {
    const text = virtual.get(file);
    return text === undefined
      ? getSourceFile.call(host, file, language, ...rest)
      : ts.createSourceFile(file, text, language);
  };
  host.fileExists = (file) => virtual.has(file) || fileExists.call(host, file);
  host.readFile = (file) => virtual.get(file) ?? readFile.call(host, file);
  const program = ts.createProgram([...exampleOf.keys(), argsFile], options, host);
  const checker = program.getTypeChecker();
  const args = new Map<string, string[]>();
  for (const statement of program.getSourceFile(argsFile)!.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    const declaration = statement.declarationList.declarations[0]!;
    const properties = checker.getPropertiesOfType(checker.getTypeAtLocation(declaration.name));
    args.set(
      declaration.name.getText(),
      properties.map((p) => p.name),
    );
  }
  const errors = new Map<string, string[]>();
  for (const [path, example] of exampleOf) {
    const source = program.getSourceFile(path)!;
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
    ];
    errors.set(
      example.id,
      diagnostics.map((d) => {
        const { line } = source.getLineAndCharacterOfPosition(d.start ?? 0);
        const where = line < example.code.split("\n").length ? `:${example.line + line}` : " (its SETUP)";
        return `${example.id.split("#")[0]}${where}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
      }),
    );
  }
  return { errors, args };
}

describe("documentation examples", () => {
  const examples = markdownFiles().flatMap(examplesOf);

  it("finds the examples of every component page, and SETUP names only examples that exist", () => {
    const files = new Set(examples.map((e) => e.id.split("#")[0]!));
    for (const page of readdirSync(join(ROOT, "docs/components")))
      expect(files, `docs/components/${page} has no ts example`).toContain(`docs/components/${page}`);
    const ids = new Set(examples.map((e) => e.id));
    for (const id of Object.keys(SETUP)) expect(ids, id).toContain(id);
  });

  // Built once: the program loads the whole Pulumi AWS provider's types.
  let checked: Checked | undefined;
  const checkedOnce = () => (checked ??= check(examples));

  it("type-check against the package, with the project's compiler options", () => {
    const { errors } = checkedOnce();
    const failing = [...errors.values()].flat();
    expect(failing, failing.join("\n")).toEqual([]);
    expect(errors.size).toBe(examples.length);
  }, 120_000);

  it("name every argument of their component on its page", () => {
    const { args } = checkedOnce();
    for (const [page, type] of Object.entries(COMPONENT_ARGS)) {
      const names = args.get(type) ?? [];
      expect(names.length, `${type} has no properties: not exported from "observatory"?`).toBeGreaterThan(2);
      const text = readFileSync(join(ROOT, page), "utf8");
      const missing = names.filter((name) => !text.includes(`\`${name}\``) && !text.includes(`${name}:`));
      expect(missing, `${page} does not mention ${type}'s ${missing.join(", ")}`).toEqual([]);
    }
  }, 120_000);
});
