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
import { ERROR_APPLICATION, ERROR_BAD_OPTION, ERROR_HANDLER, validateErrorResponseV1 } from "@natsbridge/types";
import {
  ApplicationError,
  NatsBridgeError,
  connect,
  decodeReply,
  errorResponse,
  newUuid,
  smartreceive,
  smartreply,
  smartreplyError,
  smartrequest,
  smartsend,
  type MsgEnvelopeV1,
} from "../dist/node.js";
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

  const err = await smartrequest(nc, subject, [["config", { a: 1 }, "dictionary"]], { correlationId: cid, timeout: 5000 }).then(
    () => assert.fail("the request succeeded"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof NatsBridgeError, String(err));
  assert.equal(err.code, "TIMEOUT");
  assert.equal(err.remote, true);
  assert.equal(err.correlationId, cid);
  // The code and the payload name have their own fields: the message says neither.
  assert.equal(err.message, "busy");
  assert.equal(err.dataname, "config");
  assert.equal(err.toString(), "TIMEOUT from the responder: busy (payload `config`)");

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
    message: "busy",
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
  const err = await smartrequest(nc, subject, [["x", "y", "text"]], { timeout: 5000 }).catch((e: unknown) => e);
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
  const reply = await smartrequest(nc, subject, [["x", "y", "text"]], { correlationId: cid, timeout: 5000 });
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
    const err = await smartrequest(nc, subject, [["x", "y", "text"]], { correlationId: cid, timeout: 5000 }).catch((e: unknown) => e);
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
  const err = await smartrequest(nc, subject, [["x", "y", "text"]], { timeout: 5000 }).catch((e: unknown) => e);
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
    const err = await smartrequest(nc, subject, [["config", { a: 1 }, "dictionary"]], { correlationId: cid, timeout: 10_000 }).catch((e: unknown) => e);
    assert.ok(err instanceof NatsBridgeError, String(err));
    // A 1.0 responder wrote `TIMEOUT: busy`: the repeated code is taken off.
    assert.deepEqual([err.code, err.message, err.correlationId, err.remote], ["TIMEOUT", "busy", cid, true]);
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
  assert.deepEqual(e.toErrorBody(), { code: "TIMEOUT", message: "late", details: {} });
});

const CID = "0d6c6f1e-8b1a-4c8e-9a51-1f0f5b0b7c11";
const REQUEST = { correlation_id: CID, msg_id: newUuid(), reply_to: "_INBOX.r", sender_name: "t" } as MsgEnvelopeV1;

test("errorResponse: an ApplicationError is APPLICATION_ERROR with its application_code and details", () => {
  const r = errorResponse(REQUEST, new ApplicationError("UNKNOWN_COLUMN", "no column `x`", { details: { column: "x" }, dataname: "query" }));
  assert.deepEqual([r.correlation_id, r.send_to], [CID, "_INBOX.r"]);
  assert.notEqual(r.msg_id, REQUEST.msg_id);
  assert.deepEqual(r.error, {
    code: ERROR_APPLICATION,
    application_code: "UNKNOWN_COLUMN",
    message: "no column `x`",
    details: { column: "x", correlation_id: CID, dataname: "query" },
  });
  assert.ok(validateErrorResponseV1(r).ok);
});

test("errorResponse: a NatsBridgeError keeps its code; the message carries its causes, not its code or payload name", () => {
  const e = new NatsBridgeError("DOWNLOAD_FAILED", "fetching `t`", { dataname: "t", cause: new Error("connection reset", { cause: new Error("os error 104") }) });
  const r = errorResponse(REQUEST, e);
  assert.deepEqual(r.error, { code: "DOWNLOAD_FAILED", message: "fetching `t`: connection reset: os error 104", details: { correlation_id: CID, dataname: "t" } });
});

test("errorResponse: anything else thrown is HANDLER_FAILED, `the handler raised <name>: <text>`, never a stack trace", () => {
  const cases: [unknown, string][] = [
    [new TypeError("cannot read `x`"), "the handler raised TypeError: cannot read `x`"],
    [new RangeError("too far", { cause: new Error("at the edge") }), "the handler raised RangeError: too far: at the edge"],
    [new Error(""), "the handler raised Error"],
    ["a string", "the handler threw a string"],
    [42, "the handler threw 42"],
    [undefined, "the handler threw undefined"],
    [null, "the handler threw null"],
    [Symbol("s"), "the handler threw Symbol(s)"],
    [Object.create(null), "the handler threw an object"],
  ];
  for (const [thrown, message] of cases) {
    const r = errorResponse(REQUEST, thrown);
    assert.deepEqual(r.error, { code: ERROR_HANDLER, message, details: { correlation_id: CID } }, String(message));
    assert.ok(!JSON.stringify(r).includes("    at "), "no stack trace");
    assert.ok(validateErrorResponseV1(r).ok);
  }
});

test("errorResponse: no reply_to is INVALID_ENVELOPE; not an envelope is INVALID_ARGUMENT; the writer rule holds application_code to APPLICATION_ERROR", () => {
  assert.throws(() => errorResponse({ ...REQUEST, reply_to: "" }, new Error("x")), (e: unknown) => e instanceof NatsBridgeError && e.code === "INVALID_ENVELOPE" && e.correlationId === CID);
  for (const bad of [undefined, null, "req", 5, [], {}]) {
    assert.throws(() => errorResponse(bad as MsgEnvelopeV1, new Error("x")), (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && e.message.includes("`request`"));
  }
  // A remote application error relayed as is keeps its code; one without application_code cannot be written.
  const relayed = NatsBridgeError.fromErrorBody({ code: ERROR_APPLICATION, message: "m" }, CID);
  assert.ok(relayed instanceof ApplicationError && relayed.applicationCode === undefined);
  assert.throws(() => errorResponse(REQUEST, relayed), (e: unknown) => e instanceof NatsBridgeError && e.code === "SERIALIZATION_ERROR" && e.message.includes("application_code"));
});

test("an application code outside its pattern is INVALID_ARGUMENT naming it", () => {
  for (const bad of ["unknown column", "", "1ABC", "x".repeat(65), 5, undefined]) {
    assert.throws(
      () => new ApplicationError(bad as string, "m"),
      (e: unknown) => e instanceof NatsBridgeError && e.code === ERROR_BAD_OPTION && e.message.includes(typeof bad === "string" ? JSON.stringify(bad.slice(0, 20)).slice(0, -1) : String(bad)),
    );
  }
  const ok = new ApplicationError("orders.not_found", "no order 7");
  assert.deepEqual([ok.code, ok.applicationCode, ok.remote, ok.name], [ERROR_APPLICATION, "orders.not_found", false, "ApplicationError"]);
  assert.ok(ok instanceof Error && ok instanceof NatsBridgeError);
  assert.equal(ok.toString(), "APPLICATION_ERROR orders.not_found: no order 7");
  assert.deepEqual(ok.toJSON(), { error: ERROR_APPLICATION, application_code: "orders.not_found", correlation_id: null, message: "APPLICATION_ERROR orders.not_found: no order 7" });
});

test("a remote application error is an ApplicationError; a 1.0 responder's repeated code and payload name are taken off", async () => {
  const { subject } = responder(async (req) => {
    await smartreplyError(nc, req, new ApplicationError("UNKNOWN_COLUMN", "no column `x`", { dataname: "query" }));
  });
  const cid = newUuid();
  const err = await smartrequest(nc, subject, [["query", { column: "x" }, "dictionary"]], { correlationId: cid, timeout: 5000 }).catch((e: unknown) => e);
  assert.ok(err instanceof ApplicationError, String(err));
  assert.deepEqual([err.code, err.applicationCode, err.remote, err.correlationId, err.message, err.dataname], [ERROR_APPLICATION, "UNKNOWN_COLUMN", true, cid, "no column `x`", "query"]);
  assert.equal(err.toString(), "APPLICATION_ERROR UNKNOWN_COLUMN from the responder: no column `x` (payload `query`)");
  assert.deepEqual(Object.keys(err.toJSON()), ["error", "application_code", "correlation_id", "message", "remote"]);

  const old = NatsBridgeError.fromErrorBody({ code: "DESERIALIZATION_ERROR", message: "DESERIALIZATION_ERROR: bad query (payload `query`)", details: { dataname: "query" } }, cid);
  assert.equal(old.message, "bad query");
  assert.equal(old.toString(), "DESERIALIZATION_ERROR from the responder: bad query (payload `query`)");
  assert.equal(old.applicationCode, undefined);
});

test("decodeReply: what a requester makes of the reply bytes", async () => {
  const good = await smartsend("r", [["x", "y", "text"]], { publish: false, correlationId: CID });
  assert.equal((await decodeReply(good.json, CID)).payload("x")?.data, "y");
  const response = errorResponse(REQUEST, new ApplicationError("UNKNOWN_COLUMN", "no column `x`"));
  const remote = await decodeReply(new TextEncoder().encode(JSON.stringify(response)), CID).catch((e: unknown) => e);
  assert.ok(remote instanceof ApplicationError && remote.remote && remote.applicationCode === "UNKNOWN_COLUMN", String(remote));
  const junk = await decodeReply("not json", CID).catch((e: unknown) => e);
  assert.ok(junk instanceof NatsBridgeError && junk.code === "INVALID_ENVELOPE" && !junk.remote && junk.correlationId === CID, String(junk));
});
