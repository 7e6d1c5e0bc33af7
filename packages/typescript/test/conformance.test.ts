/**
 * The golden vectors of conformance/v1 (the hostile group's exact bytes included) decoded by
 * this package's own smartreceive, compared
 * the way `cargo xtask conformance` compares a lane's answers (ok/error code; per payload
 * dataname, payload_type, transport, size, sha256, text, json, num_rows, arrow_schema).
 * Link vectors are served from conformance/v1 by a local HTTP server.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join, normalize } from "node:path";
import { after, before, test } from "node:test";
import { Type, type DataType, type Table } from "apache-arrow";
import { NatsBridgeError, smartreceive } from "../dist/node.js";
import { REPO } from "./helpers.ts";

const V1 = join(REPO, "conformance/v1");
let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? "/").split("?")[0]!));
    if (path.includes("..")) return void res.writeHead(403).end();
    try {
      const body = readFileSync(join(V1, path));
      res.writeHead(200, { "Content-Length": String(body.length) }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  base = `127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

function arrowTypeName(type: DataType): string {
  switch (type.typeId) {
    case Type.Bool:
      return "bool";
    case Type.Int: {
      const i = type as unknown as { bitWidth: number; isSigned: boolean };
      return `${i.isSigned ? "int" : "uint"}${i.bitWidth}`;
    }
    case Type.Float: {
      const p = (type as unknown as { precision: number }).precision;
      return p === 2 ? "float64" : p === 1 ? "float32" : "float16";
    }
    case Type.Utf8:
      return "utf8";
    case Type.LargeUtf8:
      return "large_utf8";
    default:
      return `other:${String(type)}`;
  }
}

async function decode(body: string | Uint8Array): Promise<Record<string, unknown>> {
  try {
    const r = await smartreceive(body, { allowedHosts: [`http://${base}`], fetch: { baseDelayMs: 5, maxDelayMs: 20 } });
    return {
      ok: true,
      payloads: r.payloads.map((p) => {
        const out: Record<string, unknown> = { dataname: p.dataname, payload_type: p.payload_type, transport: p.transport, size: p.bytes.byteLength, sha256: p.sha256 };
        if (p.payload_type === "text") out["text"] = p.data;
        if (p.payload_type === "dictionary") out["json"] = p.data;
        if (p.payload_type === "jsontable") {
          out["json"] = p.data;
          out["num_rows"] = p.data.length;
        }
        if (p.payload_type === "arrowtable") {
          const t = p.data as Table;
          out["num_rows"] = t.numRows;
          out["arrow_schema"] = t.schema.fields.map((f) => [f.name, arrowTypeName(f.type), f.nullable]);
        }
        return out;
      }),
    };
  } catch (e) {
    if (!(e instanceof NatsBridgeError)) return { ok: false, error: `NOT A NatsBridgeError: ${String(e)}` };
    return { ok: false, error: e.code };
  }
}

/**
 * The source text of vector `id`'s `envelope` object as the file writes it: the runner sends
 * it as serde_json writes it, which keeps number forms (`11.0`) that a JavaScript value loses.
 */
function rawEnvelope(fileText: string, id: string, value: unknown): string {
  const key = `"envelope": `;
  const start = fileText.indexOf(key, fileText.indexOf(`"id": ${JSON.stringify(id)}`)) + key.length;
  if (fileText[start] !== "{" && fileText[start] !== "[") return JSON.stringify(value);
  let depth = 0;
  let inString = false;
  for (let i = start; i < fileText.length; i++) {
    const c = fileText[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if ((c === "}" || c === "]") && --depth === 0) return asSerdeWritesIt(fileText.slice(start, i + 1));
  }
  throw new Error(`no envelope for ${id}`);
}

/**
 * The runner reads vectors with serde_json, which holds an integer literal past u64 as a
 * double and writes it back as one (`18446744073709551616` → `1.8446744073709552e19`).
 */
function asSerdeWritesIt(text: string): string {
  return text.replace(/(?<=[:\[,]\s*)-?[0-9]{20,}(?=\s*[,}\]])/g, (n) => (BigInt(n) > 2n ** 64n - 1n || BigInt(n) < -(2n ** 63n) ? Number(n).toExponential().replace("e+", "e") : n));
}

/** Equal as JSON values (`-0` and `0` alike, as the runner compares). */
function sameJson(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a === undefined ? a : JSON.parse(JSON.stringify(a)), b === undefined ? b : JSON.parse(JSON.stringify(b)));
    return true;
  } catch {
    return false;
  }
}

/** The runner's comparison: the union of keys, each semantically equal. */
function matches(got: Record<string, unknown>, want: Record<string, unknown>): boolean {
  if (got["ok"] !== want["ok"]) return false;
  if (want["ok"] === false) return got["error"] === want["error"];
  const g = got["payloads"] as Record<string, unknown>[];
  const w = want["payloads"] as Record<string, unknown>[];
  if (g.length !== w.length) return false;
  return g.every((gp, i) => {
    const wp = w[i]!;
    return [...new Set([...Object.keys(gp), ...Object.keys(wp)])].every((k) => sameJson(gp[k], wp[k]));
  });
}

test("smartreceive agrees with every golden vector's decode expectation", async () => {
  const disagreements: string[] = [];
  let count = 0;
  for (const file of readdirSync(V1).filter((f) => f.endsWith(".json")).sort()) {
    const fileText = readFileSync(join(V1, file), "utf8");
    const doc = JSON.parse(fileText) as { vectors?: Record<string, unknown>[] };
    // Groups of other ops (`cases`: writer, budget, fetch) are the conformance runner's.
    if (doc.vectors === undefined) continue;
    for (const v of doc.vectors) {
      const want = v["decode"] as Record<string, unknown> | undefined;
      if (want === undefined) continue;
      // `envelope_base64`: the exact bytes (hostile ones may be invalid UTF-8), handed over as a NATS body is.
      const b64 = v["envelope_base64"];
      const body =
        typeof b64 === "string"
          ? new Uint8Array(Buffer.from(b64, "base64"))
          : (typeof v["envelope_text"] === "string" ? v["envelope_text"] : rawEnvelope(fileText, String(v["id"]), v["envelope"])).replaceAll("{{BLOBS}}", base);
      const got = await decode(body);
      count++;
      if (!matches(got, want)) disagreements.push(`${String(v["id"])}: got ${JSON.stringify(got).slice(0, 300)}, expected ${JSON.stringify(want).slice(0, 300)}`);
    }
  }
  assert.ok(count > 100, `${count} vectors`);
  assert.deepEqual(disagreements, []);
});
