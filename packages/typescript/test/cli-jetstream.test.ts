/**
 * `natsbridge-js send|receive --stream`: JetStream through the CLI, against a real nats-server
 * with JetStream and the embedded file server. A send creates the missing stream and is acked
 * (stream sequence on stderr); a receive started later replays it (link payload included)
 * with the same digest line; `--since` replays from a time; a receive waiting on the stream
 * gets what comes later; a missing stream is an error; usage errors exit 2 with a message.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, newUuid } from "../dist/node.js";
import { cliArgs, natsbridgeBin, startFileServer, startNats, startProcess, type RunResult, type Running } from "./helpers.ts";
import { bytes } from "./samples.ts";

let nats: Running;
let files: Running;
let nc: Awaited<ReturnType<typeof connect>>;
let dir: string;

before(async () => {
  nats = await startNats();
  files = await startFileServer();
  nc = await connect({ servers: nats.url });
  dir = mkdtempSync(join(tmpdir(), "nb-ts-cli-js-"));
});
after(async () => {
  await nc?.close();
  await files?.stop();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function cli(...args: string[]) {
  const [node, argv] = cliArgs(...args);
  return startProcess(node, argv);
}

function lines(text: string): string[] {
  return text.trim() === "" ? [] : text.trim().split("\n");
}

function ok(r: RunResult): RunResult {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r;
}

/** A unique subject and stream name per test. */
function names(): { subject: string; stream: string } {
  const id = newUuid().slice(0, 8);
  return { subject: `cli.js.${id}`, stream: `CLIJS_${id}` };
}

function sendArgs(subject: string, stream: string, note: string): string[] {
  const blob = join(dir, `${note}.bin`);
  writeFileSync(blob, bytes(300_000, note.length + 3));
  return [
    "send", "--server", nats.url, "--subject", subject, "--stream", stream, "--fileserver", files.url, "--threshold", "100000",
    "--header", "Sample-Rate=44100", "--header=Channels=2",
    `--payload=note:text:${note}`, "--payload", 'config:dictionary:{"step":1}', "--payload", `blob:binary:@${blob}`,
  ];
}

test("send --stream creates the stream and is acked; a late receive --stream replays it with the same digest", async () => {
  const { subject, stream } = names();
  const first = ok(await cli(...sendArgs(subject, stream, "first")).done);
  const firstDigest = lines(first.stdout).at(-1)!;
  assert.equal(JSON.parse(firstDigest).payloads[2].transport, "link", "the blob goes by link");
  assert.deepEqual(lines(first.stderr).map((l) => JSON.parse(l) as unknown), [{ stream, stream_sequence: 1 }], "the ack on stderr");

  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  assert.deepEqual(info.config.subjects, [subject]);
  assert.equal(info.config.storage, "file");
  assert.equal(info.config.max_age, 24 * 3600 * 1e9, "24 hours, as the other CLIs create it");
  assert.equal(info.state.messages, 1);

  await new Promise((r) => setTimeout(r, 300));
  const since = new Date();
  await new Promise((r) => setTimeout(r, 300));
  const second = ok(await cli(...sendArgs(subject, stream, "second")).done);
  const secondDigest = lines(second.stdout).at(-1)!;
  assert.match(second.stderr, /"stream_sequence":2/);

  // Late: both envelopes were published before this receiver existed.
  const all = cli("receive", "--server", nats.url, "--subject", subject, "--stream", stream, "--count", "2", "--timeout", "30",
    "--allow-host", files.url, "--show-header", "Channels", "--show-header", "Sample-Rate");
  await all.waitStderr("subscribed");
  const replay = ok(await all.done);
  const got = lines(replay.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(got.length, 2, replay.stdout);
  for (const g of got) {
    assert.deepEqual(g["headers"], { Channels: "2", "Sample-Rate": "44100" });
    delete g["headers"];
  }
  assert.deepEqual(got.map((g) => JSON.stringify(g)), [firstDigest, secondDigest]);

  // From a time: only the second.
  const recent = ok(await cli("receive", "--server", nats.url, "--subject", subject, "--stream", stream, "--since", since.toISOString(),
    "--count", "1", "--timeout", "30", "--allow-host", files.url).done);
  assert.deepEqual(lines(recent.stdout), [secondDigest]);

  // --count not reached within --timeout: what arrived is printed, exit 1.
  const short = await cli("receive", "--server", nats.url, "--subject", subject, "--stream", stream, "--count", "3", "--timeout", "2",
    "--allow-host", files.url).done;
  assert.equal(short.code, 1, short.stderr);
  assert.deepEqual(lines(short.stdout), [firstDigest, secondDigest]);
});

test("a receive --stream waiting on the stream gets what is sent after it; a missing stream is an error", async () => {
  const { subject, stream } = names();
  const missing = await cli("receive", "--server", nats.url, "--subject", subject, "--stream", stream, "--timeout", "5").done;
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, new RegExp(`error: the stream \`${stream}\` does not exist`));
  assert.doesNotMatch(missing.stderr, /subscribed/);

  const old = ok(await cli(...sendArgs(subject, stream, "old")).done);
  const rx = cli("receive", "--server", nats.url, "--subject", subject, "--stream", stream, "--since", new Date().toISOString(),
    "--count", "1", "--timeout", "30", "--allow-host", files.url);
  await rx.waitStderr(`{"subscribed":true,"stream":"${stream}"}`);
  const live = ok(await cli(...sendArgs(subject, stream, "live")).done);
  const got = ok(await rx.done);
  assert.deepEqual(lines(got.stdout), [lines(live.stdout).at(-1)!], "only the one sent after --since");
  assert.notDeepEqual(lines(old.stdout), lines(live.stdout));
  assert.match(live.stderr, /"stream_sequence":2/);
});

test("bad stream names and other usage errors exit 2 with a message, before anything is sent", async () => {
  const { subject, stream } = names();
  const cases: [string[], RegExp][] = [
    [["send", "--server", nats.url, "--subject", subject, "--stream", "bad.name", "--payload", "n:text:x"], /--stream `bad\.name` is not a stream name/],
    [["send", "--server", nats.url, "--subject", subject, "--stream", "has space", "--payload", "n:text:x"], /--stream `has space` is not a stream name/],
    [["receive", "--server", nats.url, "--subject", subject, "--stream", "a*b"], /--stream `a\*b` is not a stream name/],
    [["receive", "--server", nats.url, "--subject", subject, "--stream", stream, "--since", "yesterday"], /reading the replay start "yesterday" \(--since\): not a start/],
    [["receive", "--server", nats.url, "--subject", subject, "--since", "2026-01-01T00:00:00Z"], /--since needs --stream/],
    [["send", "--server", nats.url, "--subject", subject, "--since", "2026-01-01T00:00:00Z", "--payload", "n:text:x"], /unknown flag --since for send/],
    [["receive", "--server", nats.url, "--subject", subject, "--stream"], /--stream needs a value/],
    [["receive", "--server", nats.url, "--subject", subject, "stray"], /unexpected argument `stray`/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(...args).done;
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, "");
  }
  const jsm = await jetstreamManager(nc);
  const streams = await jsm.streams.names().next();
  assert.ok(!streams.includes(stream), "no stream was created by a rejected command");
});

test("send --stream into an existing stream that does not capture the subject fails (exit 1), naming both", async () => {
  const { subject } = names();
  const other = names();
  ok(await cli("send", "--server", nats.url, "--subject", other.subject, "--stream", other.stream, "--payload", "n:text:x").done);
  const r = await cli("send", "--server", nats.url, "--subject", subject, "--stream", other.stream, "--payload", "n:text:x").done;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`PUBLISH_FAILED: the stream \`${other.stream}\` does not capture \`${subject.replaceAll(".", "\\.")}\``));
  assert.equal(r.stdout, "");
});

test("natsbridge-js and the Rust natsbridge replay each other's streams with equal digests", async () => {
  // TypeScript sends (and creates the stream), Rust replays it late.
  let { subject, stream } = names();
  const tsSent = ok(await cli(...sendArgs(subject, stream, "from-ts")).done);
  const rsGot = ok(await startProcess(natsbridgeBin(), ["receive", "--server", nats.url, "--subject", subject, "--stream", stream,
    "--count", "1", "--timeout", "30", "--allow-host", files.url]).done);
  assert.deepEqual(lines(rsGot.stdout), [lines(tsSent.stdout).at(-1)!]);

  // Rust sends (and creates the stream), TypeScript replays it late.
  ({ subject, stream } = names());
  const rsSent = ok(await startProcess(natsbridgeBin(), sendArgs(subject, stream, "from-rust")).done);
  assert.match(rsSent.stderr, /"stream_sequence":1/);
  const tsGot = ok(await cli("receive", "--server", nats.url, "--subject", subject, "--stream", stream, "--count", "1", "--timeout", "30",
    "--allow-host", files.url).done);
  assert.deepEqual(lines(tsGot.stdout), [lines(rsSent.stdout).at(-1)!]);
  assert.equal(JSON.parse(lines(tsGot.stdout)[0]!).payloads[2].transport, "link");
});
