#!/usr/bin/env node
/**
 * The MicroPython lane of the conformance suite: the JSON-lines testee protocol of
 * conformance/README.md (`validate`, `roundtrip`, `decode`, `encode`, `send`, `fetch`, plus
 * `hello`), answered by the natsbridge_mp codec running inside the real MicroPython v1.27 (the
 * WebAssembly port, `@micropython/micropython-webassembly-pyscript`). This file only moves
 * lines in and out; the protocol adapter is `testee_adapter.py`, which runs in MicroPython too.
 *
 * HTTP (link downloads, `fetch`, the Plik uploads of `send`): the WebAssembly port has no
 * sockets, so this host carries the TCP bytes for it (`nbhost.exchange`: a short child process
 * sends the request bytes MicroPython's http.py made, read from a file of MicroPython's file
 * system, and returns what the server answered, at most `cap` bytes, in another file);
 * MicroPython's http.py reads that answer. `hello` says so: `"link_download": "host-tcp"`,
 * `"link_upload": "host-tcp"`.
 *
 * Usage: node packages/micropython/testee.mjs --allow-host http://127.0.0.1:PORT [...]
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { HERE, startMicroPython } from "./mp.mjs";

const allowedHosts = process.argv.slice(2).filter((_, i, a) => a[i - 1] === "--allow-host");
const ADAPTER = readFileSync(`${HERE}testee_adapter.py`, "utf8");
const RESPONSE_FILE = "/tmp/nbhost_response";

/**
 * Sends stdin to host:port over TCP and writes what came back (at most `cap` + 1 bytes) to
 * stdout; exit status 1 (the error on stderr) when the connection fails, is cut, or times out.
 */
const CHILD = `
const net = require("node:net");
const [host, port, cap, timeoutMs] = process.argv.slice(1).map((a, i) => (i === 0 ? a : Number(a)));
const request = require("node:fs").readFileSync(0);
const chunks = [];
let size = 0;
const sock = net.connect({ host, port }, () => sock.write(request));
sock.setTimeout(timeoutMs, () => sock.destroy(new Error("timed out")));
sock.on("data", (d) => {
  chunks.push(d);
  size += d.length;
  if (size > cap) sock.destroy();
});
sock.on("error", (e) => { process.stderr.write(String(e.message)); process.exit(1); });
sock.on("close", () => process.stdout.write(Buffer.concat(chunks).subarray(0, cap + 1), () => process.exit(0)));
`;

let lastError = "";
let mp;
let answer;

async function start() {
  mp = await startMicroPython({ extra: { "testee_adapter.py": ADAPTER } });
  mp.registerJsModule("nbhost", {
    exchange(host, port, requestFile, cap, timeoutMs) {
      const r = spawnSync(process.execPath, ["-e", CHILD, String(host), String(port), String(cap), String(timeoutMs)], {
        input: mp.FS.readFile(requestFile),
        maxBuffer: cap + (4 << 20),
        timeout: timeoutMs + 10000,
      });
      if (r.status !== 0 || r.error) {
        lastError = r.error ? String(r.error.message) : String(r.stderr);
        return "";
      }
      mp.FS.writeFile(RESPONSE_FILE, r.stdout);
      return RESPONSE_FILE;
    },
    last_error: () => lastError,
  });
  const adapter = mp.pyimport("testee_adapter");
  adapter.configure(JSON.stringify(allowedHosts));
  answer = adapter.answer;
}

await start();
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (line.trim() === "") continue;
  let out;
  try {
    out = answer(line);
    JSON.parse(out); // the adapter writes JSON; anything else is a bug, reported as one
  } catch (e) {
    // A failure of the interpreter itself (e.g. a WebAssembly trap): report it and start afresh.
    out = JSON.stringify({ ok: false, error: "UNEXPECTED_EXCEPTION", message: `MicroPython host: ${String(e).slice(0, 300)}` });
    await start();
  }
  process.stdout.write(`${out}\n`);
}
