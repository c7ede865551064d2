import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openLocalS3 } from "../local/stack-connection.js";

describe("openLocalS3 with no stack running", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "obs-conn-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses, for a read-only command, a --data-dir that does not exist, and creates nothing", async () => {
    const missing = join(dir, "typo");
    await expect(openLocalS3({ dataDir: missing }, { readOnly: true })).rejects.toThrow(
      `no data directory at ${missing}: nothing to read`,
    );
    expect(existsSync(missing)).toBe(false);
  });

  it("serves an existing data directory offline, and lets a writing command start a new one", async () => {
    const fresh = join(dir, "fresh");
    const writer = await openLocalS3({ dataDir: fresh });
    expect(writer.running).toBe(false);
    await writer.close();
    expect(existsSync(join(fresh, "s3"))).toBe(true);
    const reader = await openLocalS3({ dataDir: fresh }, { readOnly: true });
    expect(reader.note).toMatch(/no local stack running/);
    await reader.close();
  });
});
