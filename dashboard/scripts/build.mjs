// Builds the page into dist/: index.html and style.css copied from src/, app.js bundled by
// esbuild for the browser (ESM, es2022) from src/main.ts with @natsbridge/client's browser
// export, nats.js (WebSocket) and apache-arrow, and hash-worker.js (the table's streaming
// SHA-256: hash-wasm in a worker) from src/hash-worker.ts. Fails when anything Node-only gets in.
import { build } from "esbuild";
import { existsSync, readdirSync, statSync } from "node:fs";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const dist = join(root, "dist");

// The page bundles @natsbridge/client's compiled dist/: refuse a missing or stale one.
const client = join(root, "..", "packages", "typescript");
const clientDist = join(client, "dist", "index.js");
const newestSrc = Math.max(...readdirSync(join(client, "src")).map((f) => statSync(join(client, "src", f)).mtimeMs));
if (!existsSync(clientDist) || statSync(clientDist).mtimeMs < newestSrc) {
  console.error("dashboard: @natsbridge/client's dist/ is missing or older than its src/; build it first: npm run build --workspace @natsbridge/client");
  process.exit(1);
}

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
const result = await build({
  entryPoints: { app: join(src, "main.ts"), "hash-worker": join(src, "hash-worker.ts") },
  outdir: dist,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  sourcemap: "linked",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});
const nodeOnly = Object.keys(result.metafile.inputs).filter((i) => i.startsWith("node:") || i.includes("transport-node"));
if (nodeOnly.length > 0) throw new Error(`Node-only modules in the browser bundle: ${nodeOnly.join(", ")}`);
for (const f of ["index.html", "style.css"]) await copyFile(join(src, f), join(dist, f));
const kib = (name) => (result.metafile.outputs[Object.keys(result.metafile.outputs).find((o) => o.endsWith(name))].bytes / 1024).toFixed(0);
console.log(`dashboard: dist/index.html, dist/style.css, dist/app.js (${kib("app.js")} KiB), dist/hash-worker.js (${kib("hash-worker.js")} KiB)`);
