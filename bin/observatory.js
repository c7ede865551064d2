#!/usr/bin/env node
// The package's bin. Sources are TypeScript; tsx loads them directly so that `npm install` needs
// no build step on a fresh machine.
import { register } from "tsx/esm/api";

// The AWS SDK warns on every start under Node 20 that releases after January 2027 will need Node 22.
// For a local CLI that is noise on every command; the README states the supported Node versions.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

register();
const { main } = await import("../cli/main.ts");
await main(process.argv);
