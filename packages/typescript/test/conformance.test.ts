/**
 * The golden vectors of conformance/v1 decoded by this package's own smartreceive, compared
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

async function decode(text: string): Promise<Record<string, unknown>> {
  try {
    const r = await smartreceive(text, { allowedHosts: [`http://${base}`], fetch: { baseDelayMs: 5, maxDelayMs: 20 } });
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

/** The runner's comparison: the union of keys, each semantically equal. */
function matches(got: Record<string, unknown>, want: Record<string, unknown>): boolean {
  if (got["ok"] !== want["ok"]) return false;
  if (want["ok"] === false) return got["error"] === want["error"];
  const g = got["payloads"] as Record<string, unknown>[];
  const w = want["payloads"] as Record<string, unknown>[];
  if (g.length !== w.length) return false;
  return g.every((gp, i) => {
    const wp = w[i]!;
    return [...new Set([...Object.keys(gp), ...Object.keys(wp)])].every((k) => {
      try {
        assert.deepEqual(gp[k], wp[k]);
        return true;
      } catch {
        return false;
      }
    });
  });
}

test("smartreceive agrees with every golden vector's decode expectation", async () => {
  const disagreements: string[] = [];
  let count = 0;
  for (const file of readdirSync(V1).filter((f) => f.endsWith(".json")).sort()) {
    const doc = JSON.parse(readFileSync(join(V1, file), "utf8")) as { vectors: Record<string, unknown>[] };
    for (const v of doc.vectors) {
      const want = v["decode"] as Record<string, unknown> | undefined;
      if (want === undefined) continue;
      const text = (typeof v["envelope_text"] === "string" ? v["envelope_text"] : JSON.stringify(v["envelope"])).replaceAll("{{BLOBS}}", base);
      const got = await decode(text);
      count++;
      if (!matches(got, want)) disagreements.push(`${String(v["id"])}: got ${JSON.stringify(got).slice(0, 300)}, expected ${JSON.stringify(want).slice(0, 300)}`);
    }
  }
  assert.ok(count > 100, `${count} vectors`);
  assert.deepEqual(disagreements, []);
});
