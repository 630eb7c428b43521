// Bundles the e2e drivers (Node, run by run.sh) and the extension-host test entry (loaded by VS Code through
// extensionTestsPath, which wants a module exporting run()) into dist-test/e2e/.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "dist-test", "e2e");
const common = { bundle: true, sourcemap: true, platform: "node", format: "cjs", target: "es2022", logLevel: "warning" };

await Promise.all([
  esbuild.build({
    ...common,
    entryPoints: { journey: join(here, "journey.ts"), hostTests: join(here, "hostTests.ts"), robustness: join(here, "robustness.ts") },
    outdir: out,
    external: ["playwright-core"],
  }),
  esbuild.build({
    ...common,
    entryPoints: { "host/index": join(here, "host", "index.ts") },
    outdir: out,
    external: ["vscode"],
  }),
]);
