/**
 * The core (`dist/index.js`, the package's default/browser export) bundles for the browser
 * with esbuild (`platform: "browser"`), pulling in no Node built-in and not the TCP transport.
 * This is a bundling check; the run in Chromium is the browser guide's docs test (docs/getting-started/browser.md).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { build } from "esbuild";
import { PACKAGE_DIR, freePort, run, startFileServer, startNats } from "./helpers.ts";

test("the core bundles for the browser without any Node built-in", async () => {
  const result = await build({
    entryPoints: [join(PACKAGE_DIR, "dist/index.js")],
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.deepEqual(inputs.filter((i) => i.startsWith("node:") || i.includes("transport-node")), []);
  assert.ok(inputs.some((i) => i.includes("nats-core")));
  assert.ok(inputs.some((i) => i.includes("apache-arrow")));
  const code = result.outputFiles[0]!.text;
  assert.ok(!/from\s+["']node:/.test(code), "no node: import left in the bundle");
});

test("the core entry point alone (wsconnect, fetch, WebCrypto) round trips over a NATS WebSocket listener", async () => {
  const nats = await startNats({ websocketPort: await freePort() });
  const files = await startFileServer();
  try {
    // Node 20 has WebSocket only behind a flag; browsers and Node 22+ have it built in.
    const r = await run(process.execPath, ["--experimental-websocket", "--no-warnings", join(PACKAGE_DIR, "test/ws-core.mjs")], {
      NATS_WS: nats.wsUrl!,
      FILESERVER_URL: files.url,
    });
    assert.equal(r.code, 0, r.stderr);
    const [info, digest] = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(info!["sent"], ["direct", "link"]);
    assert.equal(info!["broker_url"], nats.wsUrl, "broker_url names the WebSocket URL connected to");
    const payloads = digest!["payloads"] as { dataname: string; transport: string; size: number }[];
    assert.deepEqual(payloads.map((p) => [p.dataname, p.transport, p.size]), [["note", "direct", 14], ["big", "link", 600_000]]);
  } finally {
    await files.stop();
    await nats.stop();
  }
});

test("the core entry point sends a token given as an option or as the URL's user info over WebSocket, and never shows it", async () => {
  const token = "ws-Zq86-SECRET";
  const nats = await startNats({ websocketPort: await freePort(), config: [`authorization { token: "${token}" }`] });
  try {
    const r = await run(process.execPath, ["--experimental-websocket", "--no-warnings", join(PACKAGE_DIR, "test/ws-auth.mjs")], { NATS_WS: nats.wsUrl!, WS_TOKEN: token });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.slice(0, 2), [{ connected: "option" }, { connected: "user info" }]);
    assert.equal(lines[2]!["code"], "NATS_CONNECTION_FAILED");
    assert.match(String(lines[2]!["message"]), /the server refused the token from the user info of the url argument of connectTo/);
    assert.ok(!r.stdout.includes("Zq86") && !r.stderr.includes("Zq86"), r.stdout);
  } finally {
    await nats.stop();
  }
});
