#!/usr/bin/env node
// The package's bin. Sources are TypeScript; tsx loads them directly so that `npm install` needs
// no build step on a fresh machine.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
await main(process.argv);
