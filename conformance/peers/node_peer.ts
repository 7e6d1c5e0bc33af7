/**
 * A small NATSBridge peer in TypeScript for the live interop tests: it builds and checks
 * envelopes with the generated `@natsbridge/types` package, uploads link payloads to a
 * Plik-compatible file server, and talks to nats-server with @nats-io/transport-node.
 *
 *   tsx node_peer.ts send --server URL --subject S --fileserver URL [--rows N] [--audio-bytes N]
 *   tsx node_peer.ts receive --server URL --subject S --allow-host URL [--timeout SECS]
 *
 * Both print the digest line of the `natsbridge` CLI (sizes and sha256 of the payload bytes as
 * carried), then one `{"info": ...}` line (headers seen, zero-copy check of link Arrow tables).
 */
import { createHash, randomUUID } from "node:crypto";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";
import { makeVector, Table, tableFromIPC, tableToIPC } from "apache-arrow";
import * as t from "../../generated/typescript/src/index.ts";

const THRESHOLD = 500_000;

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) throw new Error(`--${name} is required`);
  return v;
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

function digestLine(env: t.MsgEnvelopeV1, parts: { p: t.MsgPayloadV1; bytes: Uint8Array; rows?: number }[]): string {
  const payloads = parts.map(({ p, bytes, rows }) => {
    const d: Record<string, unknown> = {
      dataname: p.dataname,
      payload_type: p.payload_type,
      transport: p.transport,
      size: bytes.byteLength,
      sha256: sha256(bytes),
    };
    if (rows !== undefined) d["num_rows"] = rows;
    return d;
  });
  return JSON.stringify({ correlation_id: env.correlation_id, msg_purpose: env.msg_purpose, payloads });
}

async function plikUpload(base: string, name: string, bytes: Uint8Array): Promise<string> {
  const created = await fetch(`${base}/upload`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ oneShot: false, ttl: 3600 }),
  });
  if (!created.ok) throw new Error(`POST /upload: ${created.status}`);
  const upload = (await created.json()) as { id: string; uploadToken: string };
  const form = new FormData();
  form.append("file", new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
  const sent = await fetch(`${base}/file/${upload.id}`, {
    method: "POST",
    headers: { "X-UploadToken": upload.uploadToken },
    body: form,
  });
  if (!sent.ok) throw new Error(`POST /file: ${sent.status}`);
  const file = (await sent.json()) as { id: string };
  return `${base}/file/${upload.id}/${file.id}/${encodeURIComponent(name)}`;
}

function sampleData(rows: number, audioBytes: number): { name: string; type: t.PayloadType; bytes: Uint8Array; rows?: number }[] {
  const enc = new TextEncoder();
  const ids = new BigInt64Array(rows);
  const values = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    ids[i] = BigInt(i);
    values[i] = i / 3;
  }
  const table = new Table({ id: makeVector(ids), value: makeVector(values) });
  const pcm = new Int16Array(Math.floor(audioBytes / 2));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(12000 * Math.sin((2 * Math.PI * 440 * i) / 44100));
  const jsonRows = [{ a: 1, b: "x" }, { a: 2, b: "ü" }];
  return [
    { name: "note", type: "text", bytes: enc.encode("Hello from Node — ünïcödé 😀") },
    { name: "config", type: "dictionary", bytes: enc.encode(JSON.stringify({ step_size: 0.01, iterations: 1000 })) },
    { name: "table", type: "arrowtable", bytes: tableToIPC(table, "stream"), rows },
    { name: "rows", type: "jsontable", bytes: enc.encode(JSON.stringify(jsonRows)), rows: jsonRows.length },
    { name: "image", type: "image", bytes: Uint8Array.from({ length: 2000 }, (_, i) => (i * 13) % 256) },
    { name: "audio", type: "audio", bytes: new Uint8Array(pcm.buffer) },
    { name: "video", type: "video", bytes: Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 256) },
    { name: "binary", type: "binary", bytes: Uint8Array.from({ length: 256 }, (_, i) => i) },
  ];
}

async function send(): Promise<void> {
  const server = arg("server");
  const subject = arg("subject");
  const fileserver = arg("fileserver");
  const data = sampleData(Number(arg("rows", "1000000")), Number(arg("audio-bytes", "5000000")));
  const parts: { p: t.MsgPayloadV1; bytes: Uint8Array; rows?: number }[] = [];
  for (const d of data) {
    const link = d.bytes.byteLength >= THRESHOLD;
    const p: t.MsgPayloadV1 = {
      id: randomUUID(),
      dataname: d.name,
      payload_type: d.type,
      transport: link ? "link" : "direct",
      encoding: link ? "none" : "base64",
      size: d.bytes.byteLength,
      data: link ? await plikUpload(fileserver, d.name, d.bytes) : Buffer.from(d.bytes).toString("base64"),
      metadata: { sha256: sha256(d.bytes) },
    };
    parts.push({ p, bytes: d.bytes, rows: d.rows });
  }
  const env: t.MsgEnvelopeV1 = {
    correlation_id: randomUUID(),
    msg_id: randomUUID(),
    timestamp: new Date().toISOString(),
    send_to: subject,
    msg_purpose: "event",
    sender_name: "node-peer",
    sender_id: "",
    receiver_name: "",
    receiver_id: "",
    reply_to: "",
    reply_to_msg_id: "",
    broker_url: server,
    metadata: {},
    payloads: parts.map((x) => x.p),
  };
  const checked = t.validateMsgEnvelopeV1(env);
  if (!checked.ok) throw new Error(`the peer built an invalid envelope: ${JSON.stringify(checked.issues)}`);
  const nc = await connect({ servers: server });
  const h = natsHeaders();
  h.set("Nats-Msg-Id", env.msg_id);
  h.set("Correlation-Id", env.correlation_id);
  h.set("Sample-Rate", "44100");
  h.set("Channels", "1");
  nc.publish(subject, t.dumpMsgEnvelopeV1(env), { headers: h });
  await nc.flush();
  await nc.close();
  console.log(digestLine(env, parts));
  console.log(JSON.stringify({ info: { sent_by: "node" } }));
}

function hostOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port !== "" ? u.port : u.protocol === "https:" ? "443" : "80"}`;
}

async function receive(): Promise<void> {
  const server = arg("server");
  const allowed = hostOf(arg("allow-host"));
  const nc = await connect({ servers: server });
  const sub = nc.subscribe(arg("subject"), { max: 1, timeout: Number(arg("timeout", "120")) * 1000 });
  console.error("subscribed");
  for await (const m of sub) {
    const env = t.parseMsgEnvelopeV1(new TextDecoder().decode(m.data));
    const parts: { p: t.MsgPayloadV1; bytes: Uint8Array; rows?: number }[] = [];
    const info: Record<string, unknown> = {
      sample_rate: m.headers?.get("Sample-Rate") ?? null,
      channels: m.headers?.get("Channels") ?? null,
    };
    for (const p of env.payloads) {
      let bytes: Uint8Array;
      if (p.transport === "link") {
        if (hostOf(p.data) !== allowed) throw new Error(`link to a host that is not allowed: ${p.data}`);
        const resp = await fetch(p.data, { redirect: "manual" });
        if (!resp.ok) throw new Error(`download ${resp.status}`);
        bytes = new Uint8Array(await resp.arrayBuffer());
      } else {
        const b = Buffer.from(p.data, "base64");
        bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      }
      if (bytes.byteLength !== p.size) throw new Error(`${p.dataname}: ${bytes.byteLength} bytes, size says ${p.size}`);
      const declared = p.metadata?.["sha256"];
      if (typeof declared === "string" && declared !== sha256(bytes)) throw new Error(`${p.dataname}: sha256 mismatch`);
      let rows: number | undefined;
      if (p.payload_type === "arrowtable") {
        const table = tableFromIPC(bytes);
        rows = table.numRows;
        // Zero-copy: do the column buffers point into the downloaded ArrayBuffer?
        const child = table.getChildAt(table.numCols - 1);
        const values = child?.data[0]?.values as ArrayBufferView | undefined;
        info["arrow_zero_copy"] = values !== undefined && values.buffer === bytes.buffer;
        info["arrow_transport"] = p.transport;
      } else if (p.payload_type === "jsontable") {
        rows = (JSON.parse(new TextDecoder().decode(bytes)) as unknown[]).length;
      }
      parts.push({ p, bytes, rows });
    }
    console.log(digestLine(env, parts));
    console.log(JSON.stringify({ info }));
  }
  await nc.close();
}

if (process.argv[2] === "send") await send();
else if (process.argv[2] === "receive") await receive();
else throw new Error("usage: node_peer.ts send|receive ...");
