/**
 * The TypeScript lane of `cargo xtask conformance`: the generated `@natsbridge/types`
 * package (ajv), apache-arrow's `tableFromIPC` and Node's crypto. One JSON request per line
 * on stdin, one JSON answer per line on stdout; protocol and decoding rules are in
 * conformance/README.md.
 *
 * Usage: tsx typescript_testee.ts --allow-host http://127.0.0.1:PORT ...
 */
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import { tableFromIPC, Type, type DataType } from "apache-arrow";
import * as t from "../../generated/typescript/src/index.ts";

const MAX_DECLARED_SIZE = 4 * 2 ** 30;

class Failure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function hostOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
    const port = u.port !== "" ? u.port : u.protocol === "https:" ? "443" : "80";
    return `${u.hostname}:${port}`;
  } catch {
    return undefined;
  }
}

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

function strictJson(raw: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch {
    throw new Failure("DESERIALIZATION_ERROR");
  }
}

async function fetchLink(url: string, allowed: Set<string>): Promise<Uint8Array> {
  const host = hostOf(url);
  if (host === undefined || !allowed.has(host)) throw new Failure("URL_NOT_ALLOWED");
  let resp: Response;
  try {
    resp = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
  } catch {
    throw new Failure("DOWNLOAD_FAILED");
  }
  if (!resp.ok) throw new Failure("DOWNLOAD_FAILED");
  return new Uint8Array(await resp.arrayBuffer());
}

async function payloadBytes(p: t.MsgPayloadV1, allowed: Set<string>): Promise<Uint8Array> {
  let raw: Uint8Array;
  if (p.transport === "direct") {
    if (p.data.length !== Math.ceil(p.size / 3) * 4) throw new Failure("INTEGRITY_MISMATCH");
    const buf = Buffer.from(p.data, "base64");
    // Buffer is lenient: accept only the canonical encoding (alphabet, padding, trailing bits).
    if (buf.toString("base64") !== p.data) throw new Failure("DESERIALIZATION_ERROR");
    raw = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } else if (p.transport === "link") {
    raw = await fetchLink(p.data, allowed);
  } else {
    throw new Failure("INVALID_TRANSPORT");
  }
  if (raw.byteLength !== p.size) throw new Failure("INTEGRITY_MISMATCH");
  return raw;
}

async function decodePayload(p: t.MsgPayloadV1, allowed: Set<string>): Promise<Record<string, unknown>> {
  if (!t.isKnownPayloadType(p.payload_type)) throw new Failure("INVALID_PAYLOAD_TYPE");
  if (p.size > MAX_DECLARED_SIZE) throw new Failure("PAYLOAD_TOO_LARGE");
  const raw = await payloadBytes(p, allowed);
  const sha = createHash("sha256").update(raw).digest("hex");
  const declared = p.metadata?.["sha256"];
  if (typeof declared === "string" && declared.toLowerCase() !== sha) throw new Failure("INTEGRITY_MISMATCH");
  const out: Record<string, unknown> = {
    dataname: p.dataname,
    payload_type: p.payload_type,
    transport: p.transport,
    size: raw.byteLength,
    sha256: sha,
  };
  switch (p.payload_type) {
    case "text":
      try {
        out["text"] = new TextDecoder("utf-8", { fatal: true }).decode(raw);
      } catch {
        throw new Failure("DESERIALIZATION_ERROR");
      }
      break;
    case "dictionary":
      out["json"] = strictJson(raw);
      break;
    case "jsontable": {
      const rows = strictJson(raw);
      if (!Array.isArray(rows) || !rows.every((r) => typeof r === "object" && r !== null && !Array.isArray(r))) {
        throw new Failure("DESERIALIZATION_ERROR");
      }
      out["json"] = rows;
      out["num_rows"] = rows.length;
      break;
    }
    case "arrowtable": {
      let table;
      try {
        table = tableFromIPC(raw);
      } catch {
        throw new Failure("DESERIALIZATION_ERROR");
      }
      if (table.schema.fields.length === 0 && raw.byteLength > 0 && table.batches.length === 0) {
        // apache-arrow returns an empty table for bytes without a schema message.
        throw new Failure("DESERIALIZATION_ERROR");
      }
      out["num_rows"] = table.numRows;
      out["arrow_schema"] = table.schema.fields.map((f) => [f.name, arrowTypeName(f.type), f.nullable]);
      break;
    }
  }
  return out;
}

async function decode(text: string, allowed: Set<string>): Promise<Record<string, unknown>> {
  let env: t.MsgEnvelopeV1;
  try {
    env = t.parseMsgEnvelopeV1(text);
  } catch {
    return { ok: false, error: "INVALID_ENVELOPE" };
  }
  try {
    const payloads = [];
    for (const p of env.payloads) payloads.push(await decodePayload(p, allowed));
    return { ok: true, payloads };
  } catch (e) {
    if (e instanceof Failure) return { ok: false, error: e.code };
    throw e;
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const allowed = new Set<string>();
  args.forEach((a, i) => {
    const host = args[i - 1] === "--allow-host" ? hostOf(a) : undefined;
    if (host !== undefined) allowed.add(host);
  });
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    const req = JSON.parse(line) as { op?: string; text?: string };
    const text = req.text ?? "";
    let answer: unknown;
    if (req.op === "validate") {
      let value: unknown;
      try {
        value = JSON.parse(text);
        answer = { valid: t.validateMsgEnvelopeV1(value).ok };
      } catch {
        answer = { valid: false };
      }
    } else if (req.op === "decode") {
      answer = await decode(text, allowed);
    } else if (req.op === "roundtrip") {
      try {
        answer = { ok: true, json: JSON.parse(t.dumpMsgEnvelopeV1(t.parseMsgEnvelopeV1(text))) };
      } catch {
        answer = { ok: false };
      }
    } else {
      answer = { error: `unknown op ${String(req.op)}` };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
}

await main();
