/**
 * `natsbridge-js` against the Rust `natsbridge`, command by command, on a real nats-server
 * (the shared script of issue 25, `three_clis.rs`, for these two CLIs, and more): the same
 * arguments must print the same JSON lines (compared as values, without timestamps and the
 * ids a run makes) and write the same files.
 *
 * - `send --no-publish` with every envelope field prints the same envelope;
 * - `receive --envelope --out DIR` prints the same digest and envelope lines and writes the
 *   same files (`<dataname>.<ext>`, the bytes as carried, names made safe, repeats numbered);
 * - `receive --stream --since 10m` replays alike; `--durable NAME --count N` goes on where the
 *   last run stopped, at once (nothing left pulled but unacknowledged);
 * - `reply --fail CODE:MESSAGE` answers what `request` prints as the remote error line (exit
 *   1), across the two CLIs too; a plain `reply` answers with its `--payload`, or echoes;
 * - `send --store dir:PATH` makes `file://` links that `receive --allow-dir` reads (and refuses
 *   outside the directory); `--help` lists every flag; usage errors exit 2.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { NatsConnection } from "@nats-io/nats-core";
import { ERROR_HOST_NOT_ALLOWED } from "@natsbridge/types";
import { connect, newUuid, smartsend, type PayloadTuple } from "../dist/node.js";
import { cliArgs, natsbridgeBin, run, startFileServer, startNats, startProcess, type RunResult, type Running } from "./helpers.ts";

const CID = "00000003-0000-4000-8000-000000000003";
const MSG_ID = "00000004-0000-4000-8000-000000000004";
const LANGS = ["rust", "node"] as const;
type Lang = (typeof LANGS)[number];

let nats: Running;
let files: Running;
let nc: NatsConnection;
let dir: string;

before(async () => {
  nats = await startNats();
  files = await startFileServer();
  nc = await connect({ servers: nats.url });
  dir = mkdtempSync(join(tmpdir(), "nb-ts-cli-commands-"));
});
after(async () => {
  await nc?.close();
  await files?.stop();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI of `lang`, started with `args`. */
function cli(lang: Lang, ...args: string[]) {
  if (lang === "rust") return startProcess(natsbridgeBin(), args);
  const [node, argv] = cliArgs(...args);
  return startProcess(node, argv);
}

/** Runs `lang`'s CLI to its end: exit code and stdout lines as JSON. */
async function lines(lang: Lang, ...args: string[]): Promise<{ code: number | null; lines: Record<string, unknown>[]; r: RunResult }> {
  const r = await cli(lang, ...args).done;
  return { code: r.code, lines: jsonLines(r.stdout), r };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text.trim() === "" ? [] : text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Without what is new on every run: the timestamp, ids the script did not set, payload ids. */
function normalized(v: Record<string, unknown>): Record<string, unknown> {
  const o = structuredClone(v);
  delete o["timestamp"];
  for (const key of ["correlation_id", "msg_id"]) {
    const id = o[key];
    if (typeof id === "string" && id !== CID && id !== MSG_ID && !id.startsWith("0000000")) delete o[key];
  }
  for (const p of (o["payloads"] as Record<string, unknown>[] | undefined) ?? []) delete p["id"];
  return o;
}

function sameLines(what: string, rust: Record<string, unknown>[], node: Record<string, unknown>[]): void {
  assert.ok(rust.length > 0, `${what}: rust printed nothing`);
  assert.deepEqual(node.map(normalized), rust.map(normalized), `${what}: node prints otherwise than rust`);
}

/** The files of `path` by name, with their bytes. */
function listing(path: string): [string, string][] {
  return readdirSync(path)
    .sort()
    .map((n) => [n, readFileSync(join(path, n)).toString("hex")]);
}

test("send --no-publish with every envelope field prints the envelope the Rust CLI prints", async () => {
  const blob = join(dir, "blob.bin");
  writeFileSync(blob, Uint8Array.from({ length: 256 }, (_, i) => i));
  const args = [
    "send", "--server", nats.url, "--subject", "three.every", "--no-publish", "--correlation-id", CID, "--msg-id", MSG_ID,
    "--purpose", "command", "--sender-name", "script", "--sender-id", "script-1", "--receiver-name", "peer", "--receiver-id", "peer-1",
    "--reply-to", "three.reply", "--reply-to-msg-id", "00000005-0000-4000-8000-000000000005", "--metadata", "run=7", "--metadata", "who=me",
    "--metadata-json", '{"tags":["a","b"],"x":{"y":1.5},"run":0}', "--header", "X-Trace=abc", "--threshold", "1000000",
    "--payload", "note:text:hello, world", "--payload", 'cfg:dictionary:{"a":1}', "--payload", `blob:binary:@${blob}`,
  ];
  const [rust, node] = await Promise.all(LANGS.map((l) => lines(l, ...args)));
  for (const out of [rust!, node!]) {
    assert.equal(out.code, 0, out.r.stderr);
    assert.equal(out.lines.length, 1);
    assert.deepEqual(out.lines[0]!["metadata"], { run: 7, who: "me", tags: ["a", "b"], x: { y: 1.5 } }, "--metadata entries override --metadata-json");
  }
  sameLines("send --no-publish", rust!.lines, node!.lines);
  assert.equal(node!.lines[0]!["reply_to"], "three.reply");
  assert.equal((node!.lines[0]!["payloads"] as { size: number }[])[2]!.size, 256);
});

test("receive --envelope --out prints and writes what the Rust CLI does", async () => {
  const outputs: Record<string, unknown>[][] = [];
  const written: [string, string][][] = [];
  for (const lang of LANGS) {
    const out = join(dir, `out-${lang}`);
    const subject = `three.receive.${lang}`;
    const rx = cli(lang, "receive", "--server", nats.url, "--subject", subject, "--count", "1", "--timeout", "30", "--envelope", "--out", out);
    await rx.waitStderr("subscribed");
    const payloads: PayloadTuple[] = [
      ["note", "hello", "text"],
      ["cfg", { a: [1, 2] }, "dictionary"],
      ["blob", Uint8Array.from({ length: 256 }, (_, i) => i), "binary"],
      ["blob", new Uint8Array([1]), "binary"],
      ["../../etc/passwd", "no escape", "text"],
      ["rows.json", [{ x: 1 }], "jsontable"],
      ["voice.wav", new Uint8Array([2, 3]), "audio"],
    ];
    await smartsend(subject, payloads, { connection: nc, correlationId: CID, msgId: MSG_ID, senderName: "script", flush: true });
    const r = await rx.done;
    assert.equal(r.code, 0, r.stderr);
    const got = jsonLines(r.stdout);
    assert.equal(got.length, 2, `${lang}: the digest line and the envelope line: ${r.stdout}`);
    got[1]!["send_to"] = "three.receive";
    outputs.push(got);
    written.push(listing(out));
  }
  sameLines("receive --envelope", outputs[0]!, outputs[1]!);
  assert.deepEqual(written[1], written[0], "receive --out: node writes otherwise than rust");
  assert.deepEqual(
    written[1]!.map(([n]) => n),
    ["_.._etc_passwd.txt", "blob-2.bin", "blob.bin", "cfg.json", "note.txt", "rows.json", "voice.wav"],
  );
  assert.equal(written[1]!.find(([n]) => n === "blob.bin")![1], Buffer.from(Uint8Array.from({ length: 256 }, (_, i) => i)).toString("hex"));
  assert.equal(Buffer.from(written[1]!.find(([n]) => n === "cfg.json")![1], "hex").toString(), '{"a":[1,2]}', "the bytes as carried");
});

test("receive --stream --since replays as the Rust CLI does; --durable goes on where the last run stopped", async () => {
  const stream = `THREE_${newUuid().slice(0, 8)}`;
  const subject = `three.health.${stream}`;
  for (const i of [0, 1, 2]) {
    const r = await run(natsbridgeBin(), ["send", "--server", nats.url, "--subject", subject, "--stream", stream,
      "--correlation-id", `0000000${i}-0000-4000-8000-00000000000${i}`, "--payload", `n:text:${i}`]);
    assert.equal(r.code, 0, r.stderr);
  }
  const replay = ["receive", "--server", nats.url, "--subject", subject, "--stream", stream, "--since", "10m", "--count", "3", "--timeout", "30"];
  const [rust, node] = await Promise.all(LANGS.map((l) => lines(l, ...replay)));
  assert.equal(node!.code, 0, node!.r.stderr);
  assert.equal(node!.lines.length, 3);
  sameLines("receive --stream --since", rust!.lines, node!.lines);
  // An hour from now: nothing stored since; --count not reached in time, exit 1.
  const none = await lines("node", ...replay.slice(0, 7), "--since", new Date(Date.now() + 3600_000).toISOString(), "--count", "1", "--timeout", "2");
  assert.deepEqual([none.code, none.lines], [1, []]);

  const durable: Record<string, unknown>[][] = [];
  for (const lang of LANGS) {
    const args = ["receive", "--server", nats.url, "--subject", subject, "--stream", stream, "--durable", `three-${lang}`, "--timeout", "30"];
    const first = await lines(lang, ...args, "--count", "2");
    assert.deepEqual([first.code, first.lines.length], [0, 2], `${lang} --durable, first run: ${first.r.stderr}`);
    const started = Date.now();
    const second = await lines(lang, ...args, "--count", "1");
    assert.deepEqual([second.code, second.lines.length], [0, 1], `${lang} --durable, second run: ${second.r.stderr}`);
    assert.equal(second.lines[0]!["correlation_id"], "00000002-0000-4000-8000-000000000002", `${lang}: the second run goes on`);
    assert.ok(Date.now() - started < 15_000, `${lang}: the second run did not wait for a redelivery`);
    durable.push([...first.lines, ...second.lines]);
  }
  sameLines("receive --durable", durable[0]!, durable[1]!);
  assert.deepEqual(durable[1]!.map((l) => l["correlation_id"]), [0, 1, 2].map((i) => `0000000${i}-0000-4000-8000-00000000000${i}`));
});

/** `request` of `asker` against a `reply` of `responder` with `replyArgs`. */
async function exchange(responder: Lang, asker: Lang, replyArgs: string[], requestArgs: string[] = []) {
  const subject = `three.rr.${newUuid()}`;
  const rx = cli(responder, "reply", "--server", nats.url, "--subject", subject, "--count", "1", "--timeout", "30", ...replyArgs);
  await rx.waitStderr("subscribed");
  const asked = await lines(asker, "request", "--server", nats.url, "--subject", subject, "--correlation-id", CID, "--payload", "q:text:hi",
    "--timeout", "10", ...requestArgs);
  const answered = await rx.done;
  return { asked, answered: { code: answered.code, lines: jsonLines(answered.stdout), stderr: answered.stderr } };
}

test("request → reply --fail prints the responder's error as the Rust CLI does (exit 1), across the two CLIs too", async () => {
  const results = [];
  for (const [responder, asker] of [["rust", "rust"], ["node", "node"], ["rust", "node"], ["node", "rust"]] as [Lang, Lang][]) {
    const { asked, answered } = await exchange(responder, asker, ["--fail", "DESERIALIZATION_ERROR:no thanks"]);
    assert.equal(asked.code, 1, `${asker} → ${responder}: ${asked.r.stdout} ${asked.r.stderr}`);
    assert.deepEqual(asked.lines, [{
      error: "DESERIALIZATION_ERROR",
      correlation_id: CID,
      message: "DESERIALIZATION_ERROR from the responder: no thanks",
      remote: true,
    }], `${asker} → ${responder}`);
    assert.equal(answered.code, 0, answered.stderr);
    assert.equal(answered.lines[0]!["correlation_id"], CID, "the responder prints the request's digest line");
    results.push(asked.lines);
  }
  // Without a message: the Rust CLI's.
  const { asked } = await exchange("node", "node", ["--fail", "TIMEOUT"]);
  assert.equal(asked.lines[0]!["message"], "TIMEOUT from the responder: the responder was told to fail");
  const bad = await lines("node", "reply", "--server", nats.url, "--subject", "x", "--fail", "NO_SUCH_CODE");
  assert.equal(bad.code, 1);
  assert.match(bad.r.stderr, /--fail `NO_SUCH_CODE`: the code is not one of INVALID_PAYLOAD_TYPE, /);
});

test("request → reply answers with --payload (or echoes) and request prints the reply as the Rust CLI does", async () => {
  const answers: Record<string, unknown>[][] = [];
  for (const lang of LANGS) {
    const { asked } = await exchange(lang, lang, ["--payload", 'status:dictionary:{"status":"Running"}'], ["--envelope"]);
    assert.equal(asked.code, 0, asked.r.stderr);
    assert.equal(asked.lines.length, 2, "the digest line and, with --envelope, the reply envelope");
    const envelope = asked.lines[1]!;
    assert.deepEqual([envelope["msg_purpose"], envelope["sender_name"], envelope["correlation_id"]], ["ACK", "natsbridge reply", CID]);
    // What differs per run and per CLI: the inbox, who asked, when.
    for (const k of ["send_to", "receiver_name", "receiver_id", "sender_id", "reply_to_msg_id", "broker_url"]) delete envelope[k];
    answers.push(asked.lines);
  }
  sameLines("request → reply", answers[0]!, answers[1]!);

  const { asked, answered } = await exchange("node", "rust", []);
  assert.equal(asked.code, 0, asked.r.stderr);
  assert.deepEqual(normalized(asked.lines[0]!), { ...normalized(answered.lines[0]!), msg_purpose: "ACK" }, "the request's payloads echoed");
});

test("request with nobody answering prints a TIMEOUT error line and exits 1", async () => {
  const r = await lines("node", "request", "--server", nats.url, "--subject", `nobody.${newUuid()}`, "--payload", "q:text:hi", "--timeout", "1");
  assert.equal(r.code, 1);
  assert.deepEqual(Object.keys(r.lines[0]!), ["error", "correlation_id", "message"]);
  assert.equal(r.lines[0]!["error"], "TIMEOUT");
});

test("send --store dir:PATH makes file:// links; receive --allow-dir reads them, and refuses them elsewhere", async () => {
  const store = join(dir, "store");
  const blob = join(dir, "big.bin");
  writeFileSync(blob, Uint8Array.from({ length: 4096 }, (_, i) => i % 251));
  for (const sender of LANGS) {
    const subject = `files.${newUuid()}`;
    const allowed = cli("node", "receive", "--server", nats.url, "--subject", subject, "--count", "1", "--timeout", "30", "--allow-dir", store);
    const other = cli("node", "receive", "--server", nats.url, "--subject", subject, "--count", "1", "--timeout", "30", "--allow-dir", join(dir, "elsewhere"));
    const none = cli("node", "receive", "--server", nats.url, "--subject", subject, "--count", "1", "--timeout", "30");
    await Promise.all([allowed, other, none].map((rx) => rx.waitStderr("subscribed")));
    const sent = await lines(sender, "send", "--server", nats.url, "--subject", subject, "--store", `dir:${store}`, "--threshold", "1000",
      "--payload", `big:binary:@${blob}`, "--payload", "small:text:hi");
    assert.equal(sent.code, 0, sent.r.stderr);
    assert.equal((sent.lines[0]!["payloads"] as { transport: string }[])[0]!.transport, "link");
    const got = jsonLines((await allowed.done).stdout);
    assert.deepEqual(got, sent.lines, `${sender} → node --allow-dir: the digest of the bytes read`);
    for (const rx of [other, none]) {
      const [line] = jsonLines((await rx.done).stdout);
      assert.equal(line!["error"], ERROR_HOST_NOT_ALLOWED, JSON.stringify(line));
    }
  }
  assert.equal(readdirSync(store).length, 2, "one file per sender");
});

test("--help lists every flag of each command; usage errors exit 2, bad values 1, before anything is sent", async () => {
  const expected: Record<string, string[]> = {
    send: ["--server", "--subject", "--payload", "--from-stdin", "--fileserver", "--store", "--threshold", "--purpose", "--correlation-id", "--msg-id",
      "--sender-name", "--sender-id", "--receiver-name", "--receiver-id", "--reply-to", "--reply-to-msg-id", "--metadata", "--metadata-json",
      "--header", "--one-shot", "--link-ttl", "--stream", "--max-age", "--replicas", "--no-publish", "--quiet", "--log-format", "--log-level"],
    receive: ["--server", "--subject", "--count", "--timeout", "--allow-host", "--allow-dir", "--show-header", "--out", "--envelope", "--stream",
      "--since", "--durable"],
    request: ["--payload", "--correlation-id", "--metadata", "--timeout", "--allow-host", "--allow-dir", "--out", "--envelope"],
    reply: ["--count", "--timeout", "--payload", "--fail", "--queue", "--fileserver", "--out", "--envelope"],
  };
  for (const [command, flags] of Object.entries(expected)) {
    const r = await cli("node", command, "--help").done;
    assert.equal(r.code, 0, r.stderr);
    for (const f of flags) assert.match(r.stdout, new RegExp(`${f}\\b`), `${command} --help: ${f}`);
  }
  const top = await cli("node", "--help").done;
  assert.match(top.stdout, /send .*\n.*receive .*\n.*request .*\n.*reply /);

  const subject = `usage.${newUuid()}`;
  const rx = cli("node", "receive", "--server", nats.url, "--subject", subject, "--timeout", "3");
  await rx.waitStderr("subscribed");
  const cases: [string[], number, RegExp][] = [
    [["send", "--subject", subject, "--subject", "b", "--payload", "n:text:x"], 2, /--subject cannot be given more than once/],
    [["send", "--subject", subject, "--no-publish=yes", "--payload", "n:text:x"], 2, /--no-publish takes no value/],
    [["send", "--subject", subject, "--max-age", "5", "--payload", "n:text:x"], 2, /--max-age needs --stream/],
    [["send", "--subject", subject, "--stream", "S", "--no-publish", "--payload", "n:text:x"], 2, /--stream cannot go with --no-publish/],
    [["receive", "--subject", subject, "--durable", "d"], 2, /--durable needs --stream/],
    [["receive", "--subject", subject, "--count", "-1"], 2, /--count must be a non-negative integer/],
    [["receive", "--subject", subject, "--stream", "S", "--since", "10 minutes"], 2, /reading the replay start "10 minutes" \(--since\): .*Give `all`, `new`/],
    [["receive", "--subject", subject, "--allow-host", "files:8080"], 2, /--allow-host: allowed host `files:8080` is not a URL; write `http:\/\/files:8080` \(or https:\/\/\.\.\.\)/],
    [["request", "--subject", subject, "--payload", "n:text:x", "--allow-host", "ftp://x"], 2, /--allow-host: allowed host `ftp:\/\/x` is not an http\(s\) URL/],
    [["send", "--server", nats.url, "--subject", subject, "--payload", "n:text"], 1, /--payload `n:text` is not NAME:TYPE:SOURCE/],
    [["send", "--server", nats.url, "--subject", subject, "--payload", "n:dictionary:{\"a\":1,\"a\":2}"], 1, /n: not JSON: .*duplicate/],
    [["send", "--server", nats.url, "--subject", subject, "--payload", "n:text:x", "--purpose", "request"], 1, /--purpose `request` is not one of ACK, NACK/],
    [["send", "--server", nats.url, "--subject", subject, "--payload", "n:text:x", "--header", "novalue"], 1, /--header `novalue` is not K=V/],
    [["send", "--server", nats.url, "--subject", subject, "--payload", "n:text:x", "--store", "s3:bucket"], 1, /--store `s3:bucket`: natsbridge-js has plik and dir:PATH/],
    [["send", "--server", nats.url, "--subject", subject], 1, /give at least one --payload/],
  ];
  for (const [args, code, message] of cases) {
    const r = await cli("node", ...args).done;
    assert.equal(r.code, code, `${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.equal(r.stdout, "");
  }
  const quiet = await rx.done;
  assert.equal(quiet.stdout, "", "nothing was sent");
  assert.ok(!existsSync(join(process.cwd(), "S")));
});
