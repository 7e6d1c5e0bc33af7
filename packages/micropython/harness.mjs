/**
 * What the MicroPython tests (test/*.test.mjs) share: the vectors as `cargo xtask conformance` sends them, an
 * HTTP server for the link vectors, a JSON-lines client for testees, and the runner's
 * comparison (`same`, `decodeMatches`), ported from xtask/src/conformance.rs.
 */
import { spawn } from "node:child_process";
import { createReadStream, readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const VECTORS_DIR = `${ROOT}conformance/v1/`;

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

/** Every vector of conformance/v1, as xtask's load_vectors reads them: {id, group, text, expect}. */
export function loadVectors() {
  const out = [];
  for (const f of readdirSync(VECTORS_DIR).filter((f) => f.endsWith(".json")).sort()) {
    const source = readFileSync(VECTORS_DIR + f, "utf8");
    const doc = JSON.parse(source);
    const lossless = parseLossless(source);
    doc.vectors.forEach((v, k) => {
      const raw = lossless.get("vectors")[k];
      const text = typeof v.envelope_text === "string" ? v.envelope_text : writeSerde(raw.get("envelope"));
      out.push({ id: v.id, group: doc.group, text, expect: v });
    });
  }
  return out;
}

/** Whether a vector's envelope carries an arrowtable payload (which this lane does not decode). */
export function involvesArrow(v) {
  try {
    const env = JSON.parse(v.text);
    return Array.isArray(env?.payloads) && env.payloads.some((p) => p?.payload_type === "arrowtable");
  } catch {
    return false;
  }
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

/** xtask `check`: validate, reader/relay, decode. Returns the problems (empty: pass). */
export async function checkVector(t, v, text) {
  const e = v.expect;
  const problems = [];
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
    const timer = setTimeout(() => this.child.kill(), 5000);
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
