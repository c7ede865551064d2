/**
 * `npm run build`: bundle every functions/<name>/handler.ts into dist/functions/<name>/index.mjs
 * (+ source map) with exactly the esbuild options the Pulumi components deploy.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { BUNDLE_FILE, bundleHandler, PACKAGE_ROOT } from "../components/bundle.js";

const FUNCTIONS_DIR = path.join(PACKAGE_ROOT, "functions");
const OUT_DIR = path.join(PACKAGE_ROOT, "dist", "functions");

const names = existsSync(FUNCTIONS_DIR)
  ? readdirSync(FUNCTIONS_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(path.join(FUNCTIONS_DIR, d.name, "handler.ts")))
      .map((d) => d.name)
      .sort()
  : [];
if (names.length === 0) {
  console.error(`no handlers found under ${FUNCTIONS_DIR}/<name>/handler.ts`);
  process.exit(1);
}

let failed = 0;
for (const name of names) {
  try {
    const bundle = bundleHandler(path.join(FUNCTIONS_DIR, name, "handler.ts"));
    const dir = path.join(OUT_DIR, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, BUNDLE_FILE), bundle.code);
    writeFileSync(path.join(dir, `${BUNDLE_FILE}.map`), bundle.sourcemap);
    const kib = (Buffer.byteLength(bundle.code) / 1024).toFixed(1);
    console.log(`${name.padEnd(24)} ${kib.padStart(8)} KiB  sha256 ${bundle.hash.slice(0, 12)}`);
  } catch (err) {
    failed++;
    console.error(`${name}: ${(err as Error).message}`);
  }
}
if (failed > 0) process.exit(1);
