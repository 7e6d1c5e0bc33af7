/**
 * Cross-language, live: this package against the Rust `natsbridge` CLI over one real
 * nats-server and the embedded file server, in both directions, with all eight payload types,
 * a 1-million-row Arrow table and 5 MB of audio by link. The digest lines must be equal.
 * Also the package's own CLI (`natsbridge-js`) against the Rust one.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { tableToIPC } from "apache-arrow";
import { connect, digestOfReceived, digestOfSent, newUuid, smartreceive, smartsend, type PayloadTuple } from "../dist/node.js";
import { cliArgs, natsbridgeBin, startFileServer, startNats, startProcess, type Running } from "./helpers.ts";
import { bytes, sampleTable } from "./samples.ts";

let nats: Running;
let files: Running;
let nc: Awaited<ReturnType<typeof connect>>;
let dir: string;

const ROWS = 1_000_000;
const AUDIO = 5_000_000;

before(async () => {
  natsbridgeBin(); // fails loudly, naming the build command, when missing
  nats = await startNats();
  files = await startFileServer();
  nc = await connect({ servers: nats.url });
  dir = mkdtempSync(join(tmpdir(), "nb-ts-interop-"));
});
after(async () => {
  await nc?.close();
  await files?.stop();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function everything(): { payloads: PayloadTuple[]; rows: (number | undefined)[] } {
  const rowsJson = [{ a: 1, b: "x" }, { a: 2, b: "ü" }];
  return {
    payloads: [
      ["note", "Hello from TypeScript — ünïcödé 😀", "text"],
      ["config", { step_size: 0.01, iterations: 1000 }, "dictionary"],
      ["table", sampleTable(ROWS), "arrowtable"],
      ["rows", rowsJson, "jsontable"],
      ["image", bytes(2000), "image"],
      ["audio", bytes(AUDIO, 7), "audio"],
      ["video", bytes(3000, 11), "video"],
      ["binary", bytes(256, 1), "binary"],
    ],
    rows: [undefined, undefined, ROWS, rowsJson.length, undefined, undefined, undefined, undefined],
  };
}

/** The digest without the `headers` the Rust receiver appends for --show-header. */
function stripHeaders(line: string): { digest: string; headers: unknown } {
  const v = JSON.parse(line) as Record<string, unknown>;
  const headers = v["headers"];
  delete v["headers"];
  return { digest: JSON.stringify(v), headers };
}

function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return lines[lines.length - 1]!;
}

function rustReceiver(subject: string) {
  return startProcess(natsbridgeBin(), [
    "receive", "--server", nats.url, "--subject", subject, "--count", "1", "--timeout", "120",
    "--allow-host", files.url, "--show-header", "Sample-Rate", "--show-header", "Channels",
  ]);
}

test("TypeScript smartsend → Rust `natsbridge receive`: equal digests", async () => {
  const subject = `interop.ts2rs.${newUuid()}`;
  const rx = rustReceiver(subject);
  await rx.waitStderr('"subscribed":true');
  const { payloads, rows } = everything();
  const sent = await smartsend(subject, payloads, { connection: nc, fileserverUrl: files.url, msgPurpose: "event", headers: { "Sample-Rate": "44100", Channels: "1" } });
  assert.equal(sent.envelope.payloads.find((p) => p.dataname === "table")!.transport, "link");
  assert.equal(sent.envelope.payloads.find((p) => p.dataname === "audio")!.transport, "link");
  const result = await rx.done;
  assert.equal(result.code, 0, result.stderr);
  const { digest, headers } = stripHeaders(lastLine(result.stdout));
  assert.equal(digest, digestOfSent(sent.envelope, rows));
  assert.deepEqual(headers, { "Sample-Rate": "44100", Channels: "1" });
});

function payloadFiles(): string[] {
  const table = join(dir, "table.arrows");
  writeFileSync(table, tableToIPC(sampleTable(ROWS), "stream"));
  const audio = join(dir, "audio.pcm");
  writeFileSync(audio, bytes(AUDIO, 7));
  const image = join(dir, "image.bin");
  writeFileSync(image, bytes(2000));
  const video = join(dir, "video.bin");
  writeFileSync(video, bytes(3000, 11));
  const binary = join(dir, "binary.bin");
  writeFileSync(binary, bytes(256, 1));
  return [
    "note:text:Hello from Rust — ünïcödé 😀",
    'config:dictionary:{"step_size":0.01,"iterations":1000}',
    `table:arrowtable:@${table}`,
    'rows:jsontable:[{"a":1,"b":"x"},{"a":2,"b":"ü"}]',
    `image:image:@${image}`,
    `audio:audio:@${audio}`,
    `video:video:@${video}`,
    `binary:binary:@${binary}`,
  ];
}

function rustSendArgs(subject: string): string[] {
  return [
    "send", "--server", nats.url, "--subject", subject, "--fileserver", files.url, "--purpose", "event",
    "--header", "Sample-Rate=44100", "--header", "Channels=1",
    ...payloadFiles().flatMap((p) => ["--payload", p]),
  ];
}

test("Rust `natsbridge send` → TypeScript smartreceive: equal digests, zero-copy link table", async () => {
  const subject = `interop.rs2ts.${newUuid()}`;
  const sub = nc.subscribe(subject, { max: 1 });
  const got = (async () => {
    for await (const m of sub) return m;
    throw new Error("none");
  })();
  await nc.flush();
  const tx = startProcess(natsbridgeBin(), rustSendArgs(subject));
  const result = await tx.done;
  assert.equal(result.code, 0, result.stderr);
  const received = await smartreceive(await got, { allowedHosts: [files.url] });
  assert.equal(digestOfReceived(received), lastLine(result.stdout));
  assert.equal(received.headers["Sample-Rate"], "44100");
  const table = received.payloads.find((p) => p.dataname === "table")!;
  const audio = received.payloads.find((p) => p.dataname === "audio")!;
  assert.equal(table.transport, "link");
  assert.equal(audio.transport, "link");
  assert.equal(audio.bytes.byteLength, AUDIO);
  if (table.payload_type !== "arrowtable") throw new Error("not a table");
  assert.equal(table.data.numRows, ROWS);
  for (const chunk of table.data.getChild("value")!.data) assert.equal(chunk.values.buffer, table.bytes.buffer, "zero-copy over the Rust-written stream");
});

test("`natsbridge-js send` → `natsbridge receive` and `natsbridge send` → `natsbridge-js receive`: the CLIs agree", async () => {
  // TypeScript CLI sends, Rust CLI receives.
  let subject = `interop.cli1.${newUuid()}`;
  const rx = rustReceiver(subject);
  await rx.waitStderr('"subscribed":true');
  const [node, args] = cliArgs(...rustSendArgs(subject));
  const tsSend = await startProcess(node, args).done;
  assert.equal(tsSend.code, 0, tsSend.stderr);
  const rsRecv = await rx.done;
  assert.equal(rsRecv.code, 0, rsRecv.stderr);
  assert.equal(stripHeaders(lastLine(rsRecv.stdout)).digest, lastLine(tsSend.stdout));

  // Rust CLI sends, TypeScript CLI receives.
  subject = `interop.cli2.${newUuid()}`;
  const [node2, args2] = cliArgs("receive", "--server", nats.url, "--subject", subject, "--count", "1", "--timeout", "120", "--allow-host", files.url, "--show-header", "Channels");
  const tsRecv = startProcess(node2, args2);
  await tsRecv.waitStderr('"subscribed":true');
  const rsSend = await startProcess(natsbridgeBin(), rustSendArgs(subject)).done;
  assert.equal(rsSend.code, 0, rsSend.stderr);
  const tsOut = await tsRecv.done;
  assert.equal(tsOut.code, 0, tsOut.stderr);
  const { digest, headers } = stripHeaders(lastLine(tsOut.stdout));
  assert.equal(digest, lastLine(rsSend.stdout));
  assert.deepEqual(headers, { Channels: "1" });
});

test("bad envelopes give the same error lines in both CLIs", async () => {
  const subject = `interop.bad.${newUuid()}`;
  const [node, args] = cliArgs("receive", "--server", nats.url, "--subject", subject, "--count", "2", "--timeout", "30");
  const tsRecv = startProcess(node, args);
  const rsRecv = startProcess(natsbridgeBin(), ["receive", "--server", nats.url, "--subject", subject, "--count", "2", "--timeout", "30"]);
  await tsRecv.waitStderr('"subscribed":true');
  await rsRecv.waitStderr('"subscribed":true');
  const sent = await smartsend(subject, [["n", "hello", "text"]], { publish: false });
  const broken = JSON.parse(sent.json) as { payloads: { size: number }[] };
  broken.payloads[0]!.size = 4;
  nc.publish(subject, JSON.stringify(broken));
  nc.publish(subject, "not an envelope");
  await nc.flush();
  const [ts, rs] = await Promise.all([tsRecv.done, rsRecv.done]);
  const parse = (out: string) => out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  const a = parse(ts.stdout);
  const b = parse(rs.stdout);
  assert.equal(a.length, 2, ts.stdout);
  assert.equal(b.length, 2, rs.stdout);
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(Object.keys(a[i]!), Object.keys(b[i]!));
    assert.equal(a[i]!["error"], b[i]!["error"]);
    assert.equal(a[i]!["correlation_id"], b[i]!["correlation_id"]);
  }
  assert.equal(a[0]!["error"], "INTEGRITY_MISMATCH");
  assert.equal(a[0]!["correlation_id"], sent.envelope.correlation_id);
  assert.equal(a[1]!["error"], "INVALID_ENVELOPE");
  assert.equal(a[1]!["correlation_id"], null);
});
