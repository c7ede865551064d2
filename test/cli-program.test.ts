// The `observatory` program as a whole (cli/main.ts): --version, how usage errors read, and that
// every command's help follows the same conventions.
import { readFile } from "node:fs/promises";
import type { Command, Option } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../cli/main.js";

/** Every command of the program, with its full name (`observatory etl status`). */
function commands(command: Command = buildProgram(), path: string[] = []): [string, Command][] {
  const name = [...path, command.name()];
  return [[name.join(" "), command], ...command.commands.flatMap((sub) => commands(sub, name))];
}

/** Parses argv with process exits and output captured: what a user would see, and the exit code. */
async function parse(...args: string[]): Promise<{ out: string; err: string; exitCode?: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = buildProgram();
  for (const [, command] of commands(program)) {
    command.exitOverride().configureOutput({
      writeOut: (text) => out.push(text),
      writeErr: (text) => err.push(text),
    });
  }
  const result = () => ({ out: out.join(""), err: err.join("") });
  try {
    await program.parseAsync(["node", "observatory", ...args]);
    return result();
  } catch (error) {
    return { ...result(), exitCode: (error as { exitCode?: number }).exitCode };
  }
}

describe("observatory --version", () => {
  it("prints the version in package.json", async () => {
    const { version } = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
    const result = await parse("--version");
    expect(result.out).toBe(`${version}\n`);
    expect(result.exitCode).toBe(0);
  });
});

describe("usage errors", () => {
  it("print the one-line error and where the help is, not the whole help", async () => {
    const invalid = await parse("query", "--format", "xml", "SELECT 1");
    expect(invalid.err).toBe(
      "error: option '--format <format>' argument 'xml' is invalid. Allowed choices are table, json, csv.\n" +
        "(see: observatory query --help)\n",
    );
    expect(invalid.exitCode).toBe(1);
    const unknown = await parse("etl", "status", "--bogus", "x");
    expect(unknown.err).toBe("error: unknown option '--bogus'\n(see: observatory etl status --help)\n");
    expect((await parse("nosuch")).err).toMatch(
      /^error: unknown command 'nosuch'\n\(see: observatory --help\)\n$/,
    );
  });

  it("refuse a port that is not a number instead of passing NaN on", async () => {
    for (const command of ["query", "cost"]) {
      const result = await parse(command, "--s3-port", "45x", "SELECT 1");
      expect(result.err).toMatch(
        /^error: option '--s3-port <port>' argument '45x' is invalid\. expected a port number/,
      );
      expect(result.exitCode).toBe(1);
    }
  });
});

describe("help conventions", () => {
  it("every command's description starts lowercase, like commander's own", () => {
    const capitalised = commands()
      .filter(([name]) => name !== "observatory") // the program's own line is a sentence above the usage
      .filter(([, command]) => /^[A-Z]/.test(command.description()))
      .map(([name, command]) => `${name}: ${command.description()}`);
    expect(capitalised).toEqual([]);
    expect(commands().length).toBeGreaterThan(8);
  });

  it("every option's description starts lowercase, unless with a name (AWS, Athena, S3...)", () => {
    // A proper noun or an acronym keeps its capital: AWS, S3, DynamoDB, Athena, Glue.
    const properNoun = /^([A-Z][A-Za-z]*[A-Z0-9][A-Za-z0-9]*|Athena|Glue)\b/;
    const capitalised = commands().flatMap(([name, command]) =>
      command.options
        .filter((o: Option) => /^[A-Z]/.test(o.description) && !properNoun.test(o.description))
        .map((o: Option) => `${name} ${o.flags}: ${o.description}`),
    );
    expect(capitalised).toEqual([]);
  });

  it('numeric defaults are numbers (help shows `default: 20`, not `default: "20"`)', () => {
    const asText = commands().flatMap(([name, command]) =>
      command.options
        .filter((o: Option) => typeof o.defaultValue === "string" && /^\d+$/.test(o.defaultValue))
        .map((o: Option) => `${name} ${o.flags}`),
    );
    expect(asText).toEqual([]);
  });
});
