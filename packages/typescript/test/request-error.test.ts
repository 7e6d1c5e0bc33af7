/**
 * A responder that cannot handle a request answers with an `error_response_v1`
 * (`smartreplyError`); `smartrequest` throws it as a remote NatsBridgeError. Against a real
 * nats-server: the requester gets the responder's code, message and the request's correlation
 * id; what is published validates as the generated writer schema says; a normal reply is
 * untouched; a reply that is neither an envelope nor an error response stays INVALID_ENVELOPE.
 * The Rust CLI's `natsbridge reply --fail` answers this package's requests the same way.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { validateErrorResponseV1 } from "@natsbridge/types";
import { NatsBridgeError, connect, newUuid, smartreceive, smartreply, smartreplyError, smartrequest, type MsgEnvelopeV1 } from "../dist/node.js";
import { natsbridgeBin, startNats, startProcess, type Running } from "./helpers.ts";

let nats: Running;
let nc: Awaited<ReturnType<typeof connect>>;

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
});

after(async () => {
  await nc?.close();
  await nats?.stop();
});

type Respond = (request: MsgEnvelopeV1) => Promise<void>;

/** Answers the next request on a fresh subject with `respond`; returns the subject and the request. */
function responder(respond: Respond): { subject: string; request: Promise<MsgEnvelopeV1> } {
  const subject = `svc.${newUuid()}`;
  const sub = nc.subscribe(subject, { max: 1 });
  const request = (async () => {
    for await (const m of sub) {
      const req = await smartreceive(m);
      await respond(req.envelope);
      return req.envelope;
    }
    throw new Error("no request");
  })();
  return { subject, request };
}

const utf8 = new TextDecoder();

test("a responder's error_response_v1 is thrown as a remote error with its code, message and the correlation id", async () => {
  const cid = newUuid();
  // Everything published on the reply inboxes, as the wire carries it.
  const inbox = nc.subscribe("_INBOX.>", { max: 1 });
  const published = (async () => {
    for await (const m of inbox) return m;
    throw new Error("nothing on the inbox");
  })();
  const { subject, request } = responder(async (req) => {
    await smartreplyError(nc, req, new NatsBridgeError("TIMEOUT", "busy", { dataname: "config" }));
  });

  const err = await smartrequest(nc, subject, [["config", { a: 1 }, "dictionary"]], { correlationId: cid }, {}, 5000).then(
    () => assert.fail("the request succeeded"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof NatsBridgeError, String(err));
  assert.equal(err.code, "TIMEOUT");
  assert.equal(err.remote, true);
  assert.equal(err.correlationId, cid);
  assert.equal(err.message, "TIMEOUT: busy (payload `config`)");
  assert.equal(err.dataname, "config");
  assert.match(err.toString(), /^TIMEOUT: the responder answered: TIMEOUT: busy/);

  const req = await request;
  const m = await published;
  assert.equal(m.subject, req.reply_to);
  const value: unknown = JSON.parse(utf8.decode(m.data));
  const checked = validateErrorResponseV1(value);
  assert.ok(checked.ok, JSON.stringify(checked));
  const response = checked.value;
  assert.equal(response.correlation_id, cid);
  assert.equal(response.send_to, req.reply_to);
  assert.notEqual(response.msg_id, req.msg_id);
  assert.match(response.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  assert.deepEqual(response.error, {
    code: "TIMEOUT",
    message: "TIMEOUT: busy (payload `config`)",
    details: { correlation_id: cid, dataname: "config" },
  });
  assert.equal(m.headers?.get("Nats-Msg-Id"), response.msg_id);
  assert.equal(m.headers?.get("Correlation-Id"), cid);
});

test("smartreplyError returns what it published, and the error's own correlation id gives way to the request's", async () => {
  let returned: unknown;
  const { subject } = responder(async (req) => {
    returned = await smartreplyError(nc, req, new NatsBridgeError("UPLOAD_FAILED", "disk full", { correlationId: newUuid() }));
  });
  const err = await smartrequest(nc, subject, [["x", "y", "text"]], {}, {}, 5000).catch((e: unknown) => e);
  assert.ok(err instanceof NatsBridgeError && err.remote && err.code === "UPLOAD_FAILED", String(err));
  const checked = validateErrorResponseV1(returned);
  assert.ok(checked.ok, JSON.stringify(checked));
  assert.equal(checked.value.error.details?.["correlation_id"], err.correlationId);
  assert.equal(checked.value.correlation_id, err.correlationId);
  assert.equal(err.dataname, undefined);
});

test("a normal reply still works and is not remote", async () => {
  const { subject } = responder(async (req) => {
    await smartreply(nc, req, [["status", "Running", "text"]], { msgPurpose: "ACK" });
  });
  const cid = newUuid();
  const reply = await smartrequest(nc, subject, [["x", "y", "text"]], { correlationId: cid }, {}, 5000);
  assert.equal(reply.payloads[0]!.data, "Running");
  assert.equal(reply.envelope.correlation_id, cid);
});

const notErrorResponses: [string, (req: MsgEnvelopeV1) => string][] = [
  ["text that is not JSON", () => "not an envelope"],
  ["JSON that is neither", () => '{"hello":"world"}'],
  [
    "an error response without its msg_id",
    (req) => JSON.stringify({ correlation_id: req.correlation_id, timestamp: "2026-01-01T00:00:00.000Z", send_to: req.reply_to, error: { code: "TIMEOUT", message: "m" } }),
  ],
  [
    // Strict JSON (reader rule 8) for error responses too: two readers must not see two errors.
    "an error response with a duplicate key",
    (req) =>
      JSON.stringify({ correlation_id: req.correlation_id, msg_id: newUuid(), timestamp: "2026-01-01T00:00:00.000Z", send_to: req.reply_to, error: { code: "TIMEOUT", message: "m" } }).replace(
        '"message":"m"',
        '"message":"m","message":"n"',
      ),
  ],
];
for (const [what, body] of notErrorResponses) {
  test(`a reply that is ${what} is still INVALID_ENVELOPE, not remote`, async () => {
    const { subject } = responder(async (req) => {
      nc.publish(req.reply_to, body(req));
      await nc.flush();
    });
    const cid = newUuid();
    const err = await smartrequest(nc, subject, [["x", "y", "text"]], { correlationId: cid }, {}, 5000).catch((e: unknown) => e);
    assert.ok(err instanceof NatsBridgeError, String(err));
    assert.equal(err.code, "INVALID_ENVELOPE");
    assert.equal(err.remote, false);
    assert.equal(err.correlationId, cid);
  });
}

test("a remote code this version does not know is kept as sent", async () => {
  const { subject } = responder(async (req) => {
    const response = {
      correlation_id: req.correlation_id,
      msg_id: newUuid(),
      timestamp: "2026-01-01T00:00:00.000Z",
      send_to: req.reply_to,
      error: { code: "QUOTA_EXCEEDED", message: "try tomorrow", details: { dataname: "x" } },
    };
    nc.publish(req.reply_to, JSON.stringify(response));
    await nc.flush();
  });
  const err = await smartrequest(nc, subject, [["x", "y", "text"]], {}, {}, 5000).catch((e: unknown) => e);
  assert.ok(err instanceof NatsBridgeError, String(err));
  assert.equal(err.code, "QUOTA_EXCEEDED");
  assert.equal(err.remote, true);
  assert.equal(err.message, "try tomorrow");
  assert.equal(err.dataname, "x");
});

test("smartreplyError to a request without reply_to is INVALID_ENVELOPE with its correlation id", async () => {
  const cid = newUuid();
  const request = { correlation_id: cid, reply_to: "" } as MsgEnvelopeV1;
  await assert.rejects(smartreplyError(nc, request, new NatsBridgeError("TIMEOUT", "busy")), (e: unknown) => {
    return e instanceof NatsBridgeError && e.code === "INVALID_ENVELOPE" && e.correlationId === cid && !e.remote;
  });
});

test("the Rust CLI's `reply --fail` answers smartrequest with a remote error", async () => {
  const subject = `rust.${newUuid()}`;
  const rust = startProcess(natsbridgeBin(), ["reply", "--server", nats.url, "--subject", subject, "--fail", "TIMEOUT:busy", "--count", "1", "--timeout", "30"]);
  try {
    await rust.waitStderr('{"subscribed":true}');
    const inbox = nc.subscribe("_INBOX.>", { max: 1 });
    const published = (async () => {
      for await (const m of inbox) return m;
      throw new Error("nothing on the inbox");
    })();
    const cid = newUuid();
    const err = await smartrequest(nc, subject, [["config", { a: 1 }, "dictionary"]], { correlationId: cid }, {}, 10_000).catch((e: unknown) => e);
    assert.ok(err instanceof NatsBridgeError, String(err));
    assert.deepEqual([err.code, err.message, err.correlationId, err.remote], ["TIMEOUT", "TIMEOUT: busy", cid, true]);
    const m = await published;
    const checked = validateErrorResponseV1(JSON.parse(utf8.decode(m.data)));
    assert.ok(checked.ok, JSON.stringify(checked));
    assert.equal(checked.value.correlation_id, cid);
    assert.equal(checked.value.error.details?.["correlation_id"], cid);
    assert.equal(m.headers?.get("Correlation-Id"), cid);
    const done = await rust.done;
    assert.equal(done.code, 0, done.stderr);
    assert.ok(done.stdout.includes(cid), done.stdout); // the CLI's digest line of the request
  } finally {
    rust.child.kill();
  }
});

test("errors this process raises are not remote", () => {
  const e = new NatsBridgeError("TIMEOUT", "late");
  assert.equal(e.remote, false);
  assert.equal(e.toString(), "TIMEOUT: late");
  assert.deepEqual(e.toErrorBody(), { code: "TIMEOUT", message: "TIMEOUT: late", details: {} });
});
