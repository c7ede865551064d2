// `npm run bench`: runs every bench/*.bench.ts in turn, each in its own process so that one
// benchmark's warm caches and heap do not flatter the next. Pass names to run a subset:
//   npm run bench -- tracker collector
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
if (files.length === 0) {
  const names = readdirSync(here)
    .filter((f) => f.endsWith(".bench.ts"))
    .map((f) => f.replace(/\.bench\.ts$/, ""));
  console.error(`no benchmark matches ${wanted.join(", ")}; have: ${names.join(", ")}`);
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  console.log(`\n=== ${file} ===`);
  const result = spawnSync(process.execPath, ["--import", "tsx", join(here, file)], {
    stdio: "inherit",
    // As in bin/observatory.js: the SDK's Node 20 notice is noise in every benchmark's output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...process.env },
  });
  if (result.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
