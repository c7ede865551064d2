import { readFileSync } from "node:fs";
import { Command } from "commander";
import { registerCostCommand } from "./commands/cost.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerDevCommand } from "./commands/dev.js";
import { registerEtlCommand } from "./commands/etl.js";
import { registerQueryCommand } from "./commands/query.js";
import { registerTraceCommand } from "./commands/trace.js";

/** The package's version, as npm knows it (package.json beside cli/). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** Builds the `observatory` program. Each command lives in its own file under cli/commands/. */
export function buildProgram(): Command {
  const program = new Command()
    .name("observatory")
    .description("Centralized metrics, logs and ETL on AWS - and the same pipeline on this machine.")
    .version(packageVersion())
    .configureHelp({ sortSubcommands: true });
  registerDevCommand(program);
  registerDemoCommand(program);
  registerTraceCommand(program);
  registerEtlCommand(program);
  registerQueryCommand(program);
  registerCostCommand(program);
  hintHelpAfterErrors(program);
  return program;
}

/**
 * A usage error (unknown option, invalid choice) prints its one line and where the help is, not the
 * whole help text, which would bury the line that says what was wrong.
 */
function hintHelpAfterErrors(command: Command, path: string[] = []): void {
  const name = [...path, command.name()];
  command.showHelpAfterError(`(see: ${name.join(" ")} --help)`);
  for (const sub of command.commands) hintHelpAfterErrors(sub, name);
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    console.error(`observatory: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
