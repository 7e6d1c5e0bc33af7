/** The max_payload budget against a nats-server configured with `max_payload: 65536`. */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { NatsBridgeError, connect, smartreceive, smartsend } from "../dist/node.js";
import { startFileServer, startNats, type Running } from "./helpers.ts";
import { bytes } from "./samples.ts";

let nats: Running;
let files: Running;
let nc: Awaited<ReturnType<typeof connect>>;

before(async () => {
  nats = await startNats({ maxPayload: 65536 });
  files = await startFileServer();
  nc = await connect({ servers: nats.url });
});
after(async () => {
  await nc?.close();
  await files?.stop();
  await nats?.stop();
});

test("the server really has max_payload 65536", () => {
  assert.equal(nc.info?.max_payload, 65536);
});

for (const [sizes, expected] of [
  [[100, 200, 300], ["direct", "direct", "direct"]],
  [[30_000, 31_000, 29_000], ["link", "link", "direct"]],
  [[60_000], ["link"]],
  [[10, 48_000, 10], ["direct", "direct", "direct"]],
  [[10, 49_500, 10], ["direct", "link", "direct"]],
] as const) {
  test(`payloads of ${sizes.join(", ")} bytes under the default threshold: ${expected.join(", ")}, and the message fits`, async () => {
    const subject = `budget.${sizes.join("-")}`;
    const sub = nc.subscribe(subject, { max: 1 });
    const got = (async () => {
      for await (const m of sub) return m;
      throw new Error("none");
    })();
    const payloads = sizes.map((n, i) => [`p${i}`, bytes(n, i + 3), "binary"] as [string, Uint8Array, "binary"]);
    const sent = await smartsend(subject, payloads, { connection: nc, fileserverUrl: files.url, headers: { "Sample-Rate": "44100" } });
    assert.deepEqual(sent.envelope.payloads.map((p) => p.transport), expected);
    const msg = await got;
    const headerBytes = "NATS/1.0\r\n\r\n".length + Object.entries(sent.headers).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    assert.ok(msg.data.byteLength + headerBytes <= 65536, `${msg.data.byteLength} + ${headerBytes}`);
    const received = await smartreceive(msg, { allowedHosts: [files.url] });
    received.payloads.forEach((p, i) => assert.deepEqual(Buffer.from(p.data as Uint8Array), Buffer.from(payloads[i]![1])));
  });
}

test("an envelope too big on its own is PAYLOAD_TOO_LARGE, not a publish failure", async () => {
  await assert.rejects(
    smartsend("budget.huge", [["x", "y", "text"]], { connection: nc, fileserverUrl: files.url, metadata: { note: "x".repeat(70_000) } }),
    (e: unknown) => e instanceof NatsBridgeError && e.code === "PAYLOAD_TOO_LARGE" && e.correlationId !== undefined,
  );
});

test("without a connection, the budget uses maxPayload", async () => {
  const sent = await smartsend("budget.offline", [["a", bytes(30_000), "binary"], ["b", bytes(31_000), "binary"]], {
    publish: false,
    maxPayload: 65536,
    fileserverUrl: files.url,
  });
  assert.deepEqual(sent.envelope.payloads.map((p) => p.transport), ["direct", "link"]);
});
