/**
 * What the MicroPython tests (test/*.test.mjs) share: the vectors as `cargo xtask conformance` sends them, an
 * HTTP server for the link vectors, a JSON-lines client for testees, and the runner's
 * comparison (`same`, `decodeMatches`), ported from xtask/src/conformance.rs.
 */
import { spawn } from "node:child_process";
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const VECTORS_DIR = `${ROOT}conformance/v1/`;

/** The value of a runtime profile constant (schema/runtime_profile_v1.json), by name. */
export function profile(name) {
  const doc = JSON.parse(readFileSync(`${ROOT}schema/runtime_profile_v1.json`, "utf8"));
  for (const g of doc.groups) {
    const c = g.constants.find((c) => c.name === name);
    if (c) return c.value;
  }
  throw new Error(`no profile constant ${name}`);
}

// --- vectors --------------------------------------------------------------------------------

/**
 * A JSON parser that keeps each number's source text (`{num: "11.0"}`), so that envelopes can
 * be written again exactly as the runner writes them.
 */
function parseLossless(text) {
  let i = 0;
  const ws = () => {
    while (/\s/.test(text[i] ?? "")) i++;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const out = new Map();
      ws();
      if (text[i] === "}") return i++, out;
      for (;;) {
        ws();
        const k = value();
        ws();
        i++; // :
        out.set(k, value());
        ws();
        if (text[i++] === "}") return out;
      }
    }
    if (c === "[") {
      i++;
      const out = [];
      ws();
      if (text[i] === "]") return i++, out;
      for (;;) {
        out.push(value());
        ws();
        if (text[i++] === "]") return out;
      }
    }
    if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/su.exec(text.slice(i));
      i += m[0].length;
      return JSON.parse(m[0]);
    }
    const m = /^(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i));
    i += m[0].length;
    return /^[-\d]/.test(m[0]) ? { num: m[0] } : JSON.parse(m[0]);
  };
  return value();
}

const U64_MAX = 2n ** 64n - 1n;
const I64_MIN = -(2n ** 63n);

/**
 * A number as serde_json (no `arbitrary_precision`) writes it back: an integer literal that fits
 * u64 or i64 unchanged, anything else as an f64 in ryu's shortest form (`11.0`, `1e300`,
 * `1.8446744073709552e19`).
 */
export function serdeNumber(raw) {
  if (/^-?\d+$/.test(raw)) {
    const n = BigInt(raw);
    if (n >= I64_MIN && n <= U64_MAX) return n.toString();
  }
  const x = Number(raw);
  const [mantissa, exp] = x.toExponential().split("e");
  const neg = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const k = digits.length;
  const kk = Number(exp) + 1; // position of the decimal point after the first k digits
  let s;
  if (x === 0) s = "0.0";
  else if (kk >= k && kk <= 16) s = `${digits}${"0".repeat(kk - k)}.0`;
  else if (kk > 0 && kk <= 16) s = `${digits.slice(0, kk)}.${digits.slice(kk)}`;
  else if (kk > -5 && kk <= 0) s = `0.${"0".repeat(-kk)}${digits}`;
  else if (k === 1) s = `${digits}e${kk - 1}`;
  else s = `${digits[0]}.${digits.slice(1)}e${kk - 1}`;
  return (neg ? "-" : "") + s;
}

/** Compact JSON as serde_json::to_string writes a `preserve_order` Value. */
function writeSerde(v) {
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${JSON.stringify(k)}:${writeSerde(x)}`).join(",")}}`;
  if (Array.isArray(v)) return `[${v.map(writeSerde).join(",")}]`;
  if (v && typeof v === "object" && "num" in v) return serdeNumber(v.num);
  return JSON.stringify(v);
}

/**
 * Every vector of conformance/v1, as the engine's vectors.rs reads them: {id, group, text, bytes,
 * expect}. A byte vector (`"decode_only": true`, the `hostile` group) has `bytes`, the exact
 * message body (`envelope_base64`, or its text's UTF-8), and `text` is those bytes read as UTF-8
 * with replacement characters; every other vector has `bytes` null.
 */
export function loadVectors() {
  const out = [];
  for (const f of readdirSync(VECTORS_DIR).filter((f) => f.endsWith(".json")).sort()) {
    const source = readFileSync(VECTORS_DIR + f, "utf8");
    const doc = JSON.parse(source);
    if (!Array.isArray(doc.vectors)) continue; // a behaviour group (cases: loadCases)
    const lossless = parseLossless(source);
    doc.vectors.forEach((v, k) => {
      let text;
      let bytes = null;
      if (typeof v.envelope_base64 === "string") {
        bytes = Buffer.from(v.envelope_base64, "base64");
        text = bytes.toString("utf8");
      } else {
        text = typeof v.envelope_text === "string" ? v.envelope_text : writeSerde(lossless.get("vectors")[k].get("envelope"));
        if (v.decode_only === true) bytes = Buffer.from(text, "utf8");
      }
      out.push({ id: v.id, group: doc.group, text, bytes, expect: v });
    });
  }
  return out;
}

/**
 * The behaviour cases of conformance/v1 (files with `cases` instead of `vectors`: the groups
 * writer-api and budget, op `send`; fetch, op `fetch`), as the engine's vectors.rs reads them:
 * {id, group, op, body} where body is the case object.
 */
export function loadCases() {
  const out = [];
  for (const f of readdirSync(VECTORS_DIR).filter((f) => f.endsWith(".json")).sort()) {
    const doc = JSON.parse(readFileSync(VECTORS_DIR + f, "utf8"));
    if (!Array.isArray(doc.cases)) continue;
    for (const c of doc.cases) out.push({ id: c.id, group: doc.group, op: c.op ?? doc.op, body: c });
  }
  return out;
}

/** Whether a vector's envelope carries an arrowtable payload (which this lane does not decode). */
export function involvesArrow(v) {
  if (v.bytes) return false; // a byte vector's verdict comes before any payload is decoded
  try {
    const env = JSON.parse(v.text);
    return Array.isArray(env?.payloads) && env.payloads.some((p) => p?.payload_type === "arrowtable");
  } catch {
    return false;
  }
}

/**
 * A lane's ledger of known failures, `conformance/expected-failures/<lane>.txt` (the engine's
 * `parse_ledger`): `vector-id  # reason` lines; a line without a reason is an error.
 */
export function readLedger(lane) {
  const out = new Map();
  const text = readFileSync(`${ROOT}conformance/expected-failures/${lane}.txt`, "utf8");
  for (const line of text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"))) {
    const k = line.indexOf("#");
    const [id, reason] = k < 0 ? [line, ""] : [line.slice(0, k).trim(), line.slice(k + 1).trim()];
    if (!reason) throw new Error(`ledger ${lane}: \`${id}\` needs a reason after \`#\``);
    out.set(id, reason);
  }
  return out;
}

// --- the runner's comparison -------------------------------------------------------------------

/** JSON equality where numbers compare as doubles (xtask `same`). */
export function same(a, b) {
  if (typeof a === "number" && typeof b === "number") return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && same(a[k], b[k]));
  }
  return a === b;
}

/** xtask `decode_matches`: same `ok`; same `error` for failures; per payload, every key of either side equal. */
export function decodeMatches(got, want) {
  if ((got?.ok ?? null) !== (want?.ok ?? null)) return false;
  if (want.ok === false) return got.error === want.error;
  const g = got.payloads;
  const w = want.payloads;
  if (!Array.isArray(g) || !Array.isArray(w) || g.length !== w.length) return false;
  return g.every((p, i) => {
    const keys = new Set([...Object.keys(p ?? {}), ...Object.keys(w[i] ?? {})]);
    return [...keys].every((k) => same(p?.[k] ?? null, w[i]?.[k] ?? null));
  });
}

/**
 * The engine's `check` (crates/natsbridge-conformance/src/compare.rs): validate, reader/relay,
 * decode; a byte vector is only decoded, sent as `{"op": "decode", "bytes": B64}`. Returns the
 * problems (empty: pass).
 */
export async function checkVector(t, v, text) {
  const e = v.expect;
  const problems = [];
  if (v.bytes) {
    const decoded = await t.request({ op: "decode", bytes: Buffer.from(v.bytes).toString("base64") });
    if (!decodeMatches(decoded, e.decode)) {
      problems.push(`decode: ${JSON.stringify(decoded).slice(0, 400)}, expected ${JSON.stringify(e.decode).slice(0, 400)}`);
    }
    return { problems, decoded };
  }
  const validated = await t.ask("validate", text);
  if ((validated.valid === true) !== (e.valid === true)) problems.push(`validate: ${validated.valid}, expected ${e.valid}`);
  const readerAccepts = e.reader === "accept";
  const rt = await t.ask("roundtrip", text);
  if ((rt.ok === true) !== readerAccepts) {
    problems.push(`reader ${rt.ok === true ? "accepts" : "rejects"}, expected ${e.reader}`);
  } else if (readerAccepts && e.relay !== false && !same(rt.json, JSON.parse(text))) {
    problems.push(`relay changed the envelope: ${JSON.stringify(rt.json)}`);
  }
  const decoded = await t.ask("decode", text);
  if (!decodeMatches(decoded, e.decode)) {
    problems.push(`decode: ${JSON.stringify(decoded).slice(0, 400)}, expected ${JSON.stringify(e.decode).slice(0, 400)}`);
  }
  return { problems, decoded };
}

// --- the blob server and the testees -------------------------------------------------------------

/** Serves conformance/v1 on a free loopback port (what the runner does with http.server). */
export async function startBlobServer() {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const file = VECTORS_DIR + path.replace(/^\/+/, "");
    let st;
    try {
      st = path.includes("..") ? null : statSync(file);
    } catch {
      st = null;
    }
    if (!st || !st.isFile()) {
      res.writeHead(404, { "Content-Length": 0, Connection: "close" });
      res.end();
      return;
    }
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": st.size, Connection: "close" });
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `127.0.0.1:${server.address().port}`;
  return { base, close: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * The scripted server of the `fetch` cases (the engine's blobs.rs `/script/{key}`): the n-th
 * request to `/script/KEY` gets the n-th step of its script (the last one repeats) and is
 * counted. A step is {status, headers, body, truncate}: `truncate` announces the whole body's
 * Content-Length, sends that many bytes and cuts the connection.
 */
export async function startScriptServer() {
  const scripts = new Map();
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const s = path.startsWith("/script/") ? scripts.get(path.slice("/script/".length)) : undefined;
    if (!s) {
      res.writeHead(404, { "Content-Length": 0 });
      res.end();
      return;
    }
    s.count++;
    const step = s.steps[Math.min(s.count, s.steps.length) - 1] ?? {};
    const body = Buffer.from(step.body ?? "", "utf8");
    res.writeHead(step.status ?? 200, { ...(step.headers ?? {}), "Content-Length": body.length });
    if (typeof step.truncate === "number") {
      res.write(body.subarray(0, step.truncate), () => res.destroy());
    } else {
      res.end(body);
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    /** Installs `steps` at `/script/KEY`, its count at zero; returns the URL. */
    script(key, steps) {
      scripts.set(key, { steps, count: 0 });
      return `${url}/script/${key}`;
    },
    requests: (key) => scripts.get(key)?.count ?? 0,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A tool: the environment variable's path, else the default; a loud failure when missing. */
export function tool(env, fallback, how) {
  const path = process.env[env] || fallback;
  if (!existsSync(path)) throw new Error(`${path} is missing ($${env}): ${how}`);
  return path;
}

/**
 * The real Plik-compatible file server, `natsbridge fileserver` (target/debug/natsbridge;
 * $NATSBRIDGE_BIN wins), on a free loopback port over a scratch directory: {url, close}.
 */
export async function startFileserver() {
  const bin = tool("NATSBRIDGE_BIN", `${ROOT}target/debug/natsbridge`, "build it with `cargo build -p natsbridge-cli`");
  const dir = mkdtempSync(join(tmpdir(), "natsbridge-mp-files-"));
  const probe = createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  const child = spawn(bin, ["fileserver", "--listen", `127.0.0.1:${port}`, "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`natsbridge fileserver did not start\n${stderr}`)), 15000);
    createInterface({ input: child.stdout }).on("line", (line) => {
      try {
        const event = JSON.parse(line);
        if (typeof event.fileserver === "string") {
          clearTimeout(timer);
          resolve(event.fileserver);
        }
      } catch {
        // not an event line
      }
    });
    child.on("exit", (code) => reject(new Error(`natsbridge fileserver exited (${code})\n${stderr}`)));
  });
  return {
    url,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.on("exit", resolve));
        child.kill();
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A testee process: one JSON request line in, one JSON answer line out. */
export class Testee {
  constructor(name, command, args, options = {}) {
    this.name = name;
    this.child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], ...options });
    this.stderr = "";
    this.child.stderr.on("data", (d) => {
      this.stderr = (this.stderr + d).slice(-4000);
    });
    this.waiting = [];
    this.lines = [];
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const w = this.waiting.shift();
      if (w) w(line);
      else this.lines.push(line);
    });
    this.exited = new Promise((resolve) => this.child.on("exit", resolve));
  }

  /** Sends a raw line; resolves with the answer line (60 s, as the runner). */
  send(line) {
    this.child.stdin.write(`${line}\n`);
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no answer within 60 s\n${this.stderr}`)), 60000);
      this.waiting.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
      this.exited.then((code) => reject(new Error(`${this.name} exited (${code})\n${this.stderr}`)));
    });
  }

  async request(req) {
    const line = await this.send(JSON.stringify(req));
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`${this.name} answered non-JSON: ${line.slice(0, 300)}`);
    }
  }

  ask(op, text) {
    return this.request({ op, text });
  }

  async close() {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill(), 4000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** The three lanes' testees, started as the runner starts them. */
export const LANES = {
  micropython: (allow) => new Testee("micropython", process.execPath, [`${ROOT}packages/micropython/testee.mjs`, "--allow-host", allow]),
  python: (allow) =>
    new Testee("python", `${ROOT}.venv/bin/python`, [`${ROOT}conformance/testees/python_testee.py`, "--allow-host", allow], {
      env: { ...process.env, PYTHONPATH: `${ROOT}generated/python:${ROOT}packages/python` },
    }),
  typescript: (allow) =>
    new Testee("typescript", `${ROOT}node_modules/.bin/tsx`, [`${ROOT}conformance/testees/typescript_testee.ts`, "--allow-host", allow], {
      cwd: ROOT,
    }),
};
