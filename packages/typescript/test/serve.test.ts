/**
 * `serve`, application errors and raising handlers across request/reply, against a real
 * nats-server: a TypeScript responder answers an `ApplicationError` ("UNKNOWN_COLUMN") and a
 * handler that throws to requesters in TypeScript (`smartrequest`), Python
 * (`python -m natsbridge request`) and Rust (`natsbridge request`); each requester gets the
 * error at once (well under its timeout), with the application code, as a remote error. The
 * server answers concurrently, logs failures with their correlation id and stack, never dies
 * on bad input, and stops by draining.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ERROR_APPLICATION, ERROR_HANDLER, ERROR_HOST_NOT_ALLOWED, validateErrorResponseV1 } from "@natsbridge/types";
import {
  ApplicationError,
  NatsBridgeError,
  connect,
  newUuid,
  serve,
  setLogger,
  smartrequest,
  type LogRecord,
  type PayloadTuple,
  type Received,
  type Server,
} from "../dist/node.js";
import { REPO, cliArgs, natsbridgeBin, run, startNats, type Running } from "./helpers.ts";

let nats: Running;
let nc: Awaited<ReturnType<typeof connect>>;
let server: Server;
const SUBJECT = `serve.${newUuid().slice(0, 8)}`;
const logs: LogRecord[] = [];

/** The requesters' timeout, s: each must have its answer in under half of it. */
const TIMEOUT_S = 10;
const MS_PER_SECOND = 1000;

/** The column service: `x` is unknown, `boom` makes the handler throw, anything else is found. */
async function columns(request: Received): Promise<[string, unknown, "dictionary"][]> {
  const query = request.payload("query")?.data as { column?: string } | undefined;
  const column = query?.column;
  if (column === "x") throw new ApplicationError("UNKNOWN_COLUMN", "no column `x`", { details: { column } });
  if (column === "boom") throw new TypeError("boom");
  return [["result", { column, rows: 3 }, "dictionary"]];
}

before(async () => {
  nats = await startNats();
  nc = await connect({ servers: nats.url });
  setLogger((r) => logs.push(r));
  server = await serve(nc, SUBJECT, columns);
});

after(async () => {
  setLogger(undefined);
  await server?.stop();
  await nc?.close();
  await nats?.stop();
});

function query(column: string): [string, unknown, "dictionary"][] {
  return [["query", { column }, "dictionary"]];
}

test("a TypeScript requester gets the answer, an ApplicationError with its code, and a raising handler's HANDLER_FAILED, at once", async () => {
  const ok = await smartrequest(nc, SUBJECT, query("a"), { timeout: TIMEOUT_S * MS_PER_SECOND });
  assert.deepEqual(ok.payload("result")?.data, { column: "a", rows: 3 });

  const cid = newUuid();
  let started = Date.now();
  const app = await smartrequest(nc, SUBJECT, query("x"), { timeout: TIMEOUT_S * MS_PER_SECOND, correlationId: cid }).then(
    () => assert.fail("answered"),
    (e: unknown) => e,
  );
  assert.ok(Date.now() - started < (TIMEOUT_S * MS_PER_SECOND) / 2, `took ${Date.now() - started} ms`);
  assert.ok(app instanceof ApplicationError, String(app));
  assert.ok(app instanceof NatsBridgeError);
  assert.deepEqual([app.code, app.applicationCode, app.remote, app.correlationId, app.message], [ERROR_APPLICATION, "UNKNOWN_COLUMN", true, cid, "no column `x`"]);
  assert.deepEqual(app.details, { column: "x" });
  assert.equal(app.toString(), "APPLICATION_ERROR UNKNOWN_COLUMN from the responder: no column `x`");

  started = Date.now();
  const raised = await smartrequest(nc, SUBJECT, query("boom"), { timeout: TIMEOUT_S * MS_PER_SECOND }).catch((e: unknown) => e);
  assert.ok(Date.now() - started < (TIMEOUT_S * MS_PER_SECOND) / 2);
  assert.ok(raised instanceof NatsBridgeError && !(raised instanceof ApplicationError), String(raised));
  assert.deepEqual([raised.code, raised.applicationCode, raised.remote], [ERROR_HANDLER, undefined, true]);
  assert.equal(raised.message, "the handler raised TypeError: boom");
  assert.ok(!raised.message.includes(" at "), "no stack trace on the wire");

  // Logged locally at warn, with the correlation id and the stack.
  const record = logs.find((r) => r.correlation_id === cid && r.level === "warn");
  assert.ok(record !== undefined, JSON.stringify(logs));
  assert.match(String(record["stack"]), /ApplicationError: no column `x`\n\s+at /);
});

const PYTHON = `${REPO}/.venv/bin/python`;
const PYTHON_ENV = { PYTHONPATH: `${REPO}/generated/python:${REPO}/packages/python` };

interface CliAnswer {
  line: Record<string, unknown>;
  ms: number;
  code: number | null;
  output: string;
}

/** `natsbridge-js`, `python -m natsbridge` or the Rust `natsbridge` `request` with the query payload: its last stdout line, parsed, and how long it took. */
async function cliRequest(lang: "typescript CLI" | "python" | "rust", column: string): Promise<CliAnswer> {
  const [node, js] = cliArgs();
  const [cmd, prefix, env] =
    lang === "python" ? [PYTHON, ["-m", "natsbridge"], PYTHON_ENV] : lang === "rust" ? [natsbridgeBin(), [], {}] : [node, js, {}];
  const started = Date.now();
  const r = await run(cmd, [...prefix, "request", "--server", nats.url, "--subject", SUBJECT, "--timeout", String(TIMEOUT_S), "--payload", `query:dictionary:{"column":"${column}"}`], env);
  const ms = Date.now() - started;
  const output = `${r.stdout}${r.stderr}`;
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return { line: JSON.parse(last) as Record<string, unknown>, ms, code: r.code, output };
  } catch {
    return assert.fail(`${lang}: the last line is not JSON: ${output}`);
  }
}

for (const lang of ["typescript CLI", "python", "rust"] as const) {
  test(`a ${lang} requester gets the TypeScript responder's application error (with application_code) and HANDLER_FAILED at once`, async () => {
    const app = await cliRequest(lang, "x");
    assert.equal(app.code, 1, app.output);
    assert.ok(app.ms < (TIMEOUT_S * MS_PER_SECOND) / 2, `${lang} took ${app.ms} ms: ${app.output}`);
    // The brief's line shape: error, application_code, correlation_id, message, remote.
    assert.deepEqual(Object.keys(app.line), ["error", "application_code", "correlation_id", "message", "remote"], app.output);
    assert.equal(app.line["error"], ERROR_APPLICATION);
    assert.equal(app.line["application_code"], "UNKNOWN_COLUMN");
    assert.equal(app.line["remote"], true);
    assert.match(String(app.line["correlation_id"]), /^[0-9a-f-]{36}$/);
    assert.ok(String(app.line["message"]).includes("no column `x`"), app.output);

    const raised = await cliRequest(lang, "boom");
    assert.equal(raised.code, 1, raised.output);
    assert.ok(raised.ms < (TIMEOUT_S * MS_PER_SECOND) / 2, `${lang} took ${raised.ms} ms`);
    assert.deepEqual(Object.keys(raised.line), ["error", "correlation_id", "message", "remote"], raised.output);
    assert.equal(raised.line["error"], ERROR_HANDLER);
    assert.equal(raised.line["remote"], true);
    assert.ok(String(raised.line["message"]).includes("the handler raised TypeError: boom"), raised.output);

    const ok = await cliRequest(lang, "a");
    assert.equal(ok.code, 0, ok.output);
    assert.equal((ok.line["payloads"] as { dataname: string }[])[0]?.dataname, "result");
  });
}

test("what serve publishes for an application error validates as a v1 writer's error_response_v1", async () => {
  const inbox = nc.subscribe("_INBOX.>", { max: 1 });
  const published = (async () => {
    for await (const m of inbox) return m;
    throw new Error("nothing on the inbox");
  })();
  const cid = newUuid();
  await smartrequest(nc, SUBJECT, query("x"), { correlationId: cid, timeout: 5_000 }).catch(() => undefined);
  const m = await published;
  const checked = validateErrorResponseV1(JSON.parse(new TextDecoder().decode(m.data)));
  assert.ok(checked.ok, JSON.stringify(checked));
  assert.deepEqual(checked.value.error, {
    code: ERROR_APPLICATION,
    application_code: "UNKNOWN_COLUMN",
    message: "no column `x`",
    details: { column: "x", correlation_id: cid },
  });
  assert.equal(m.headers?.get("Correlation-Id"), cid);
});

test("serve answers concurrently, and a handler that returns nothing sends nothing", async () => {
  const subject = `serve.concurrent.${newUuid().slice(0, 8)}`;
  let release: () => void = () => {};
  const second = new Promise<void>((r) => (release = r));
  const s = await serve(nc, subject, async (request) => {
    const n = String(request.payload("n")?.data);
    if (n === "first") await second; // answered only once the second request is being handled
    if (n === "second") release();
    if (n === "silent") return undefined;
    return [["n", n, "text"]] as PayloadTuple[];
  });
  try {
    const [a, b] = await Promise.all([
      smartrequest(nc, subject, [["n", "first", "text"]], { timeout: 5_000 }),
      smartrequest(nc, subject, [["n", "second", "text"]], { timeout: 5_000 }),
    ]);
    assert.equal(a.payload("n")?.data, "first");
    assert.equal(b.payload("n")?.data, "second");
    await assert.rejects(smartrequest(nc, subject, [["n", "silent", "text"]], { timeout: 300 }), (e: unknown) => e instanceof NatsBridgeError && e.code === "TIMEOUT" && !e.remote);
  } finally {
    await s.stop();
  }
});

test("serve never dies on bad input: not an envelope is skipped (logged with its header correlation id), a request it cannot receive is answered with its error", async () => {
  const subject = `serve.bad.${newUuid().slice(0, 8)}`;
  const s = await serve(nc, subject, async () => [["ok", "yes", "text"]]);
  try {
    const hint = newUuid();
    const { headers } = await import("@nats-io/nats-core");
    const h = headers();
    h.set("Correlation-Id", hint);
    nc.publish(subject, "not an envelope", { headers: h });
    nc.publish(subject, new Uint8Array([0xff, 0xfe]));
    await nc.flush();

    // A readable envelope with a link the server does not allow: answered, not timed out.
    const started = Date.now();
    const refused = await smartrequest(nc, subject, [["big", new Uint8Array(2000), "binary"]], {
      timeout: 10_000,
      sizeThreshold: 1000,
      uploader: async () => "http://elsewhere.example:9/blob",
    }).catch((e: unknown) => e);
    assert.ok(refused instanceof NatsBridgeError && refused.remote && refused.code === ERROR_HOST_NOT_ALLOWED, String(refused));
    assert.ok(Date.now() - started < 5_000);

    const ok = await smartrequest(nc, subject, [["x", "y", "text"]], { timeout: 5_000 });
    assert.equal(ok.payload("ok")?.data, "yes");
    const skipped = logs.find((r) => r.correlation_id === hint && /skipped/.test(r.msg));
    assert.ok(skipped !== undefined && skipped.level === "warn", JSON.stringify(logs.filter((r) => r.correlation_id === hint)));
  } finally {
    await s.stop();
  }
});

test("a handler returning something else than payloads is answered with HANDLER_FAILED; one thrown non-Error too", async () => {
  const subject = `serve.odd.${newUuid().slice(0, 8)}`;
  const s = await serve(nc, subject, async (request) => {
    if (request.payload("kind")?.data === "string") return "oops" as never;
    throw "a string"; // eslint-disable-line no-throw-literal
  });
  try {
    const odd = await smartrequest(nc, subject, [["kind", "string", "text"]], { timeout: 5_000 }).catch((e: unknown) => e);
    assert.ok(odd instanceof NatsBridgeError && odd.code === ERROR_HANDLER && odd.message.includes('the string "oops"'), String(odd));
    const thrown = await smartrequest(nc, subject, [["kind", "throw", "text"]], { timeout: 5_000 }).catch((e: unknown) => e);
    assert.ok(thrown instanceof NatsBridgeError && thrown.code === ERROR_HANDLER && thrown.message === "the handler threw a string", String(thrown));
  } finally {
    await s.stop();
  }
});

test("stop() drains: a request being handled is still answered, then `closed` resolves and nothing more is taken", async () => {
  const subject = `serve.stop.${newUuid().slice(0, 8)}`;
  let entered: () => void = () => {};
  const inHandler = new Promise<void>((r) => (entered = r));
  const s = await serve(nc, subject, async () => {
    entered();
    await new Promise((r) => setTimeout(r, 200));
    return [["done", "yes", "text"]];
  });
  const pending = smartrequest(nc, subject, [["x", "y", "text"]], { timeout: 5_000 });
  await inHandler;
  await s.stop();
  assert.equal((await pending).payload("done")?.data, "yes");
  await s.closed;
  await assert.rejects(smartrequest(nc, subject, [["x", "y", "text"]], { timeout: 300 }), (e: unknown) => e instanceof NatsBridgeError && e.code === "TIMEOUT");
});

test("serve checks its arguments loudly", async () => {
  const bad: [unknown[], string][] = [
    [[{}, SUBJECT, columns], "`nc` must be a NATS connection"],
    [[nc, "", columns], "`subject` must be a non-empty string"],
    [[nc, SUBJECT, "handler"], "`handler` of serve must be a function"],
    [[nc, SUBJECT, columns, { queu: "q" }], "did you mean `queue`?"],
    [[nc, SUBJECT, columns, { receive: { allowedHosts: "http://files:8080" } }], "wrap it in a list"],
  ];
  for (const [args, fragment] of bad) {
    await assert.rejects((serve as (...a: unknown[]) => Promise<Server>)(...args), (e: unknown) => {
      assert.ok(e instanceof NatsBridgeError && e.code === "INVALID_ARGUMENT", String(e));
      assert.ok(e.message.includes(fragment), e.message);
      return true;
    });
  }
});
