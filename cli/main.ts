import { Command } from "commander";
import { registerCostCommand } from "./commands/cost.js";
import { registerDemoCommand } from "./commands/demo.js";
import { registerDevCommand } from "./commands/dev.js";
import { registerEtlCommand } from "./commands/etl.js";
import { registerQueryCommand } from "./commands/query.js";
import { registerTraceCommand } from "./commands/trace.js";

/** Builds the `observatory` program. Each command lives in its own file under cli/commands/. */
export function buildProgram(): Command {
  const program = new Command()
    .name("observatory")
    .description("Centralized metrics, logs and ETL on AWS - and the same pipeline on this machine.")
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });
  registerDevCommand(program);
  registerDemoCommand(program);
  registerTraceCommand(program);
  registerEtlCommand(program);
  registerQueryCommand(program);
  registerCostCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    console.error(`observatory: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
