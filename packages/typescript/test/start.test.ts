/**
 * Replay starts, one grammar (`parseStart`, `ConsumerOptions.start`, the CLI's `--since`):
 * every accepted form parses to what it says; every other value is INVALID_ARGUMENT naming
 * the value and the accepted forms (with "did you mean `new`?" for a case slip), raised when
 * the consumer is created, before any server call (never NATS_CONNECTION_FAILED); against a
 * real JetStream, `new`, a sequence, a duration and a time start where they say; the CLI takes
 * exactly the text form.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DURATION_UNITS_MS, ERROR_BAD_OPTION, START_ALL, START_NEW } from "@natsbridge/types";
import { EnvelopeConsumer, NatsBridgeError, connect, ensureStream, newUuid, parseStart, publishToStream } from "../dist/node.js";
import { cliArgs, run, startNats, type Running } from "./helpers.ts";

const NOW = new Date("2026-12-06T10:00:00Z");
const MS = DURATION_UNITS_MS;

const accepted: [unknown, ReturnType<typeof parseStart>][] = [
  [START_ALL, { kind: "all" }],
  [START_NEW, { kind: "new" }],
  ["42", { kind: "sequence", sequence: 42 }],
  [42, { kind: "sequence", sequence: 42 }],
  ["1", { kind: "sequence", sequence: 1 }],
  ["250ms", { kind: "time", time: new Date(NOW.getTime() - 250 * MS.ms) }],
  ["90s", { kind: "time", time: new Date(NOW.getTime() - 90 * MS.s) }],
  ["10m", { kind: "time", time: new Date(NOW.getTime() - 10 * MS.m) }],
  ["1h30m", { kind: "time", time: new Date(NOW.getTime() - MS.h - 30 * MS.m) }],
  ["2d", { kind: "time", time: new Date(NOW.getTime() - 2 * MS.d) }],
  ["2026-12-06T09:00:00Z", { kind: "time", time: new Date(Date.UTC(2026, 11, 6, 9)) }],
  ["2026-12-06T18:00:00+09:00", { kind: "time", time: new Date(Date.UTC(2026, 11, 6, 9)) }],
  ["2026-12-06T04:30:00-04:30", { kind: "time", time: new Date(Date.UTC(2026, 11, 6, 9)) }],
  ["2026-12-06T09:00:00.250Z", { kind: "time", time: new Date(Date.UTC(2026, 11, 6, 9, 0, 0, 250)) }],
  ["2024-02-29T00:00:00Z", { kind: "time", time: new Date(Date.UTC(2024, 1, 29)) }],
  [new Date(Date.UTC(2026, 0, 1)), { kind: "time", time: new Date(Date.UTC(2026, 0, 1)) }],
];

for (const [value, want] of accepted) {
  test(`parseStart(${JSON.stringify(value)}) is ${JSON.stringify(want)}`, () => {
    assert.deepEqual(parseStart(value, NOW), want);
  });
}

/** Refused values, and a fragment the message must hold beyond the value itself. */
const refused: [unknown, string, string][] = [
  ["New", '"New"', "did you mean `new`?"],
  ["ALL", '"ALL"', "did you mean `all`?"],
  ["5 m", '"5 m"', "no spaces"],
  ["-5m", '"-5m"', "no sign"],
  [" 5m", '" 5m"', "not trimmed"],
  ["0s", '"0s"', "use `new`"],
  ["0", '"0"', "start at 1"],
  ["042", '"042"', "leading zeros"],
  ["5w", '"5w"', "not a start"],
  ["", '""', "empty"],
  ["2026-12-06", '"2026-12-06"', "2026-12-06T00:00:00Z"],
  ["2026-12-06T09:00:00", '"2026-12-06T09:00:00"', "no UTC offset"],
  ["2026-02-30T09:00:00Z", '"2026-02-30T09:00:00Z"', "not a valid date"],
  ["2026-12-06T09:00:00+25:00", '"2026-12-06T09:00:00+25:00"', "offset"],
  ["yesterday", '"yesterday"', "not a start"],
  [1.5, "1.5", "integer of 1 or more"],
  [0, "0", "start at 1"],
  [-3, "-3", "integer of 1 or more"],
  [Number.NaN, "NaN", "integer of 1 or more"],
  [Number.POSITIVE_INFINITY, "Infinity", "integer of 1 or more"],
  [new Date(Number.NaN), "invalid Date", "invalid"],
  [{}, "an object", "not a start"],
  [[], "an array", "not a start"],
  [null, "null", "not a start"],
  [undefined, "undefined", "not a start"],
  [true, "true", "not a start"],
  [Symbol("s"), "Symbol(s)", "not a start"],
];

for (const [value, shown, why] of refused) {
  test(`parseStart refuses ${shown}, naming it and the accepted forms`, () => {
    assert.throws(
      () => parseStart(value, NOW),
      (e: unknown) => {
        assert.ok(e instanceof NatsBridgeError, String(e));
        assert.equal(e.code, ERROR_BAD_OPTION);
        assert.ok(e.message.includes(shown), e.message);
        assert.ok(e.message.includes(why), e.message);
        for (const form of [START_ALL, START_NEW, "10m", "2026-12-06T09:00:00Z"]) assert.ok(e.message.includes(`\`${form}\``), e.message);
        return true;
      },
    );
  });
}

test("parseStart's `now` must be a valid Date; durations count back from the current time without it", () => {
  assert.throws(() => parseStart("10m", "now" as unknown as Date), (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && e.message.includes("`now`"));
  const before = Date.now();
  const start = parseStart("10m");
  assert.equal(start.kind, "time");
  if (start.kind === "time") assert.ok(Math.abs(start.time.getTime() - (before - 10 * MS.m)) < 5_000);
});

let nats: Running;
let nc: Awaited<ReturnType<typeof connect>>;

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  await ensureStream(nc, { name: "STARTS", subjects: ["starts.>"], maxAgeMs: 3_600_000 });
});
after(async () => {
  await nc?.close();
  await nats?.stop();
});

test("a bad start, or an old or misspelt option, is INVALID_ARGUMENT when the consumer is created, before any server call", async () => {
  // A closed connection: reaching the server would be NATS_CONNECTION_FAILED.
  const closed = await connect({ servers: nats.url });
  await closed.close();
  const cases: [Record<string, unknown>, string][] = [
    [{ start: "5 m" }, "option `start` of EnvelopeConsumer.create"],
    [{ start: "New" }, "did you mean `new`?"],
    [{ start: 0 }, "start at 1"],
    [{ start: true }, "option `start` of EnvelopeConsumer.create"],
    [{ since: "5m" }, "did you mean `start`?"],
    [{ startTime: new Date() }, "did you mean `start`?"],
    [{ deliverNew: true }, "did you mean `start`?"],
    [{ batch: 0 }, "option `batch`"],
    [{ ackWaitMs: -1 }, "option `ackWaitMs`"],
  ];
  for (const [options, fragment] of cases) {
    await assert.rejects(EnvelopeConsumer.create(closed, "STARTS", options as never), (e: unknown) => {
      assert.ok(e instanceof NatsBridgeError, String(e));
      assert.equal(e.code, ERROR_BAD_OPTION, `${JSON.stringify(options)}: ${e.message}`);
      assert.ok(e.message.includes(fragment), e.message);
      return true;
    });
  }
});

async function firstNote(start: string | number | Date | undefined, subject: string): Promise<string> {
  const consumer = await EnvelopeConsumer.create(nc, "STARTS", { filterSubject: subject, ...(start === undefined ? {} : { start }) });
  try {
    const d = await consumer.next(5_000);
    await d.ack();
    return d.received.payload("note")!.data as string;
  } finally {
    await consumer.close();
  }
}

test("a consumer starts where `start` says: all (default), a sequence, a duration, a time, new", async () => {
  const subject = `starts.${newUuid().slice(0, 8)}`;
  const first = await publishToStream(nc, subject, [["note", "old", "text"]]);
  await new Promise((r) => setTimeout(r, 1_200));
  const middle = new Date();
  const second = await publishToStream(nc, subject, [["note", "recent", "text"]]);

  assert.equal(await firstNote(undefined, subject), "old");
  assert.equal(await firstNote(START_ALL, subject), "old");
  assert.equal(await firstNote(first.streamSequence!, subject), "old");
  assert.equal(await firstNote(String(second.streamSequence), subject), "recent");
  assert.equal(await firstNote("1s", subject), "recent");
  assert.equal(await firstNote(middle.toISOString(), subject), "recent");
  assert.equal(await firstNote(middle, subject), "recent");

  const fresh = await EnvelopeConsumer.create(nc, "STARTS", { filterSubject: subject, start: START_NEW });
  try {
    await publishToStream(nc, subject, [["note", "new", "text"]]);
    const d = await fresh.next(5_000);
    assert.equal(d.received.payload("note")!.data, "new");
  } finally {
    await fresh.close();
  }
});

test("`natsbridge-js receive --since` takes the text form, and a bad one is a usage error naming it", async () => {
  const subject = `starts.cli.${newUuid().slice(0, 8)}`;
  const sent = await publishToStream(nc, subject, [["note", "one", "text"]]);
  for (const since of [START_ALL, String(sent.streamSequence), "1h30m", "2026-01-01T00:00:00Z"]) {
    const [node, args] = cliArgs("receive", "--server", nats.url, "--subject", subject, "--stream", "STARTS", "--since", since, "--count", "1", "--timeout", "10");
    const r = await run(node, args);
    assert.equal(r.code, 0, `--since ${since}: ${r.stderr}`);
    assert.ok(r.stdout.includes(sent.envelope.correlation_id), r.stdout);
  }
  for (const since of ["New", "5 m", "2026-12-06T09:00:00", "0s"]) {
    const [node, args] = cliArgs("receive", "--server", nats.url, "--subject", subject, "--stream", "STARTS", "--since", since, "--count", "1", "--timeout", "5");
    const r = await run(node, args);
    assert.equal(r.code, 2, `--since ${since}: ${r.stdout} ${r.stderr}`);
    assert.ok(r.stderr.includes(JSON.stringify(since)) && r.stderr.includes("--since"), r.stderr);
  }
});
