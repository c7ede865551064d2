import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

describe("README", () => {
  it("shows the app example that test/fixtures/readme-app-example.ts type-checks, verbatim", () => {
    const fixture = read("test/fixtures/readme-app-example.ts");
    const example = fixture.split("// README-EXAMPLE-START\n")[1]!.split("// README-EXAMPLE-END")[0]!;
    expect(read("README.md")).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it("shows the two commands and links only files that exist", () => {
    const readme = read("README.md");
    expect(readme).toContain("npm install && npm start");
    expect(readme).toContain("npm install && npm test");
    const links = [...readme.matchAll(/\]\(([^)#]+)\)/g)]
      .map((m) => m[1]!)
      .filter((l) => !l.startsWith("http"));
    expect(links.length).toBeGreaterThan(5);
    for (const link of links) expect(() => read(link), link).not.toThrow();
  });
});
