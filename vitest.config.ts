import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Local peers (s3rver, dynalite, DuckDB) start per file; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // As in bin/observatory.js and bench/run.ts: the AWS SDK's Node 20 notice, printed by every test
    // process and child, would bury the test output (README explains Node 20 vs 22).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
