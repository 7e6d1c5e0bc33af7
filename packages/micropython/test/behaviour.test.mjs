/**
 * The behaviour groups of conformance/v1 (writer-api, budget: op `send`; fetch: op `fetch`;
 * `typed` cases are not applicable: the lane carries no generated team package)
 * through the MicroPython testee, with the engine's checks (crates/natsbridge-conformance/src/
 * cases.rs) and the lane's ledger, as `cargo xtask conformance --lang micropython` runs them:
 *
 * - `send`: the codec's smartsend from API-level inputs, nothing published, links uploaded by
 *   the codec's own Plik code (http.plik_uploader, the TCP bytes carried by the Node host) to
 *   the real `natsbridge fileserver`; the envelope's fields and transports must be as expected,
 *   and MicroPython and CPython (the Python runtime's testee) must read it back to the bytes
 *   given, links downloaded from the file server (the full runner has every lane read it);
 * - `fetch`: http.fetch (the codec's fetch_with_backoff) against a scripted server, which
 *   counts the attempts; the call is timed.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { LANES, loadCases, profile, readLedger, same, startFileserver, startScriptServer } from "../harness.mjs";

const cases = loadCases();
const ledger = readLedger("micropython");
const READERS = ["micropython", "python"];

let files;
let scripted;
const testees = {};

before(async () => {
  files = await startFileserver();
  scripted = await startScriptServer();
  for (const name of READERS) testees[name] = LANES[name](files.url);
});

after(async () => {
  for (const t of Object.values(testees)) await t.close();
  await files?.close();
  await scripted?.close();
});

/** The bytes a `send` payload stands for when the caller's value fixes them (cases.rs `given_bytes`). */
function givenBytes(p) {
  if (typeof p.text === "string") return Buffer.from(p.text, "utf8");
  if (typeof p.base64 === "string") return Buffer.from(p.base64, "base64");
  if (p.fill) return Buffer.alloc(p.fill.count, p.fill.byte);
  return null;
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");

/** cases.rs `verdict_problem`. */
function verdictProblem(answer, expect) {
  if (answer.ok !== expect.ok) return `answered ${JSON.stringify(answer).slice(0, 300)}, expected ${JSON.stringify(expect)}`;
  if (expect.ok === false && answer.error !== expect.error) return `error ${answer.error}, expected ${expect.error}`;
  return null;
}

/**
 * Payload types a lane declares in `hello` (a v1 type outside them makes a case not
 * applicable to it); null for a lane without `hello`, which handles every type (testee.rs).
 */
async function declaredTypes(t) {
  const hello = await t.request({ op: "hello" });
  const types = hello.capabilities?.payload_types;
  return { has: (ty) => !Array.isArray(types) || types.includes(ty) };
}

async function checkSend(c, handled) {
  const call = c.body.send;
  const expect = c.body.expect;
  const request = { op: "send", subject: call.subject, payloads: call.payloads, options: call.options ?? {}, fileserver: files.url };
  const answer = await testees.micropython.request(request);
  const verdict = verdictProblem(answer, expect);
  if (verdict) return [verdict];
  if (expect.ok === false) return [];
  const problems = [];
  const envelope = JSON.parse(answer.text);
  for (const [field, want] of Object.entries(expect.fields ?? {})) {
    if (!same(envelope[field], want)) problems.push(`\`${field}\` is ${JSON.stringify(envelope[field])}, expected ${JSON.stringify(want)}`);
  }
  const transports = envelope.payloads.map((p) => p.transport);
  if (expect.transports && !same(transports, expect.transports)) problems.push(`transports ${JSON.stringify(transports)}, expected ${JSON.stringify(expect.transports)}`);
  for (const name of READERS) {
    if (!call.payloads.every((p) => handled[name].has(p.payload_type))) continue;
    const decoded = await testees[name].ask("decode", answer.text);
    if (decoded.ok !== true) {
      problems.push(`${name} cannot read it: ${JSON.stringify(decoded).slice(0, 300)}`);
      continue;
    }
    if (decoded.payloads.length !== call.payloads.length) {
      problems.push(`${name} reads ${decoded.payloads.length} payloads of ${call.payloads.length}`);
      continue;
    }
    call.payloads.forEach((p, i) => {
      const g = decoded.payloads[i];
      const bytes = givenBytes(p);
      if (bytes && (g.size !== bytes.length || g.sha256 !== sha256(bytes))) problems.push(`${name} reads ${p.dataname} as other bytes`);
      if ("json" in p && !same(g.json, p.json)) problems.push(`${name} reads ${p.dataname} as ${JSON.stringify(g.json)}`);
    });
  }
  return problems;
}

async function checkFetch(c) {
  const expect = c.body.expect;
  const key = `micropython/${c.id}`;
  const url = scripted.script(key, c.body.script ?? []);
  const started = Date.now();
  const answer = await testees.micropython.request({ op: "fetch", url, options: c.body.options ?? {} });
  const elapsed = Date.now() - started;
  const attempts = scripted.requests(key);
  const problems = [];
  const verdict = verdictProblem(answer, expect);
  if (verdict) problems.push(verdict);
  else if (expect.ok === true) {
    for (const k of ["size", "sha256"]) if (!same(answer[k], expect[k])) problems.push(`\`${k}\` ${answer[k]}, expected ${expect[k]}`);
  }
  if (typeof expect.attempts === "number" && attempts !== expect.attempts) problems.push(`the server saw ${attempts} attempt(s), expected ${expect.attempts}`);
  if (typeof expect.min_elapsed_ms === "number" && elapsed < expect.min_elapsed_ms) problems.push(`answered after ${elapsed} ms, sooner than ${expect.min_elapsed_ms} ms`);
  if (typeof expect.max_elapsed_ms === "number" && elapsed > expect.max_elapsed_ms) problems.push(`answered after ${elapsed} ms, later than ${expect.max_elapsed_ms} ms`);
  return problems;
}

test("the behaviour cases (writer-api, budget, fetch): pass, or listed in the lane's ledger", { timeout: 600_000 }, async (t) => {
  const handled = {};
  for (const name of READERS) handled[name] = await declaredTypes(testees[name]);
  const v1Types = new Set(profile("PAYLOAD_SERIALIZATION") ? Object.keys(profile("PAYLOAD_SERIALIZATION")) : []);
  assert.ok(v1Types.has("arrowtable") && v1Types.size === 8, "the profile's PAYLOAD_SERIALIZATION names the eight v1 types");
  const failures = [];
  const unexpectedPasses = [];
  const tally = { pass: 0, notApplicable: 0, expectedFail: 0, fail: 0 };
  const groups = new Set();
  for (const c of cases) {
    groups.add(c.group);
    const types = (c.body.send?.payloads ?? []).map((p) => p.payload_type);
    // `typed` cases need a generated package of the spec, which the lane's hello does not
    // declare (capabilities.typed): not applicable, as the runner counts them.
    if (!["send", "fetch"].includes(c.op) || types.some((ty) => v1Types.has(ty) && !handled.micropython.has(ty))) {
      tally.notApplicable++;
      continue;
    }
    const problems = c.op === "send" ? await checkSend(c, handled) : await checkFetch(c);
    if (ledger.has(c.id)) {
      if (problems.length === 0) unexpectedPasses.push(c.id);
      else tally.expectedFail++;
      t.diagnostic(`${c.id} (ledger: ${ledger.get(c.id)}): ${problems.join("; ") || "passes"}`);
    } else if (problems.length) {
      tally.fail++;
      failures.push(`${c.id}: ${problems.join("; ")}`);
    } else {
      tally.pass++;
    }
  }
  t.diagnostic(`behaviour cases: ${cases.length}: pass ${tally.pass}, not applicable ${tally.notApplicable}, ledger ${tally.expectedFail}, fail ${tally.fail}`);
  for (const g of ["budget", "fetch", "writer-api"]) assert.ok(groups.has(g), `group ${g} is run`);
  assert.deepEqual(failures, []);
  assert.deepEqual(unexpectedPasses, [], "listed in conformance/expected-failures/micropython.txt but passing: remove them");
  assert.ok(tally.pass >= 40, `${tally.pass} cases passed`);
});

test("send answers what the codec did: links uploaded to the file server, the threshold, the budget", async () => {
  const payloads = [
    { dataname: "small", payload_type: "text", text: "hi" },
    { dataname: "big", payload_type: "binary", fill: { byte: 7, count: profile("DEVICE_SIZE_THRESHOLD") } },
  ];
  // No size_threshold: the device's DEVICE_SIZE_THRESHOLD (not the servers' DEFAULT_SIZE_THRESHOLD).
  const sent = await testees.micropython.request({ op: "send", subject: "s.t", payloads, options: {}, fileserver: files.url });
  assert.equal(sent.ok, true, JSON.stringify(sent).slice(0, 300));
  const env = JSON.parse(sent.text);
  assert.deepEqual(env.payloads.map((p) => p.transport), ["direct", "link"]);
  assert.ok(env.payloads[1].data.startsWith(`${files.url}/file/`), env.payloads[1].data);
  const blob = Buffer.from(await (await fetch(env.payloads[1].data)).arrayBuffer());
  assert.deepEqual(blob, Buffer.alloc(profile("DEVICE_SIZE_THRESHOLD"), 7));
  // No file server: a link cannot be made (the codec's own refusal).
  const none = await testees.micropython.request({ op: "send", subject: "s.t", payloads, options: {} });
  assert.deepEqual([none.ok, none.error], [false, profile("ERROR_UPLOAD")]);
  // A file server that is not there: UPLOAD_FAILED, and the testee goes on.
  const down = await testees.micropython.request({ op: "send", subject: "s.t", payloads, options: {}, fileserver: "http://127.0.0.1:1" });
  assert.deepEqual([down.ok, down.error], [false, profile("ERROR_UPLOAD")]);
  // Options reach the codec as given: a mistyped value is the codec's SERIALIZATION_ERROR.
  const bad = await testees.micropython.request({ op: "send", subject: "s.t", payloads: payloads.slice(0, 1), options: { size_threshold: "10" } });
  assert.deepEqual([bad.ok, bad.error], [false, profile("ERROR_BAD_OPTION")]);
  assert.match(bad.message, /size_threshold/);
});
