/**
 * Every vector of conformance/v1 through the MicroPython testee, with the runner's checks
 * (xtask/src/conformance.rs `check`: validate, reader and relay, decode) and its comparison.
 * Link vectors point at a node:http server over conformance/v1 on a free loopback port, the
 * host substituted for `{{BLOBS}}` as the runner does. Vectors carrying an arrowtable payload
 * must be answered NOT_APPLICABLE (there is no Arrow on MicroPython) unless the decoding rules
 * refuse them, as expected, before the Arrow step; every other vector must pass, unless the
 * lane's ledger (conformance/expected-failures/micropython.txt) lists it, as the runner reads it:
 * a listed vector must fail, and one that passes fails the test (remove it from the ledger then).
 * Byte vectors (the `hostile` group, `decode_only`) are sent as `{"op": "decode", "bytes": B64}`.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { LANES, checkVector, involvesArrow, loadCases, loadVectors, profile, readLedger, startBlobServer } from "../harness.mjs";

let blobs;
let mp;
const vectors = loadVectors();
const ledger = readLedger("micropython");

before(async () => {
  blobs = await startBlobServer();
  mp = LANES.micropython(`http://${blobs.base}`);
});

after(async () => {
  await mp?.close();
  await blobs?.close();
});

test("hello declares the lane and what it does not support", async () => {
  const hello = await mp.request({ op: "hello" });
  assert.equal(hello.ok, true);
  assert.equal(hello.lane, "micropython");
  assert.equal(hello.protocol, 1);
  const c = hello.capabilities;
  assert.match(c.runtime, /^MicroPython 1\.27\.\d/);
  assert.deepEqual(c.ops, ["hello", "validate", "roundtrip", "decode", "encode", "send", "fetch", "allow_host"]);
  assert.ok(!c.payload_types.includes("arrowtable"));
  assert.deepEqual(c.not_applicable, ["arrowtable"]);
  assert.equal(c.link_download, "host-tcp");
  assert.equal(c.link_upload, "host-tcp");
});

test("every vector of conformance/v1: pass, or not applicable (arrowtable)", async (t) => {
  const tally = { pass: 0, notApplicable: 0, fail: 0, expectedFail: 0 };
  const unexpectedPasses = [];
  const byGroup = {};
  const failures = [];
  const arrowPasses = [];
  for (const v of vectors) {
    const text = v.text.replaceAll("{{BLOBS}}", blobs.base);
    const { problems, decoded } = await checkVector(mp, v, text);
    const cell = (byGroup[v.group] ??= { pass: 0, notApplicable: 0, fail: 0 });
    let outcome;
    if (involvesArrow(v)) {
      // The decode must say NOT_APPLICABLE (never a pretended success), unless the decoding
      // rules stop the envelope before any Arrow is read and the answer is the expected error
      // (reference-examples/link-fragment: an arrowtable link to a host that is not allowed).
      // validate and roundtrip need no Arrow and must agree with the vector either way.
      const other = problems.filter((p) => !p.startsWith("decode:"));
      const expectedError = v.expect.decode.ok === false && problems.length === 0;
      outcome = other.length > 0 ? "fail" : decoded.error === "NOT_APPLICABLE" ? "notApplicable" : expectedError ? "pass" : "fail";
      if (outcome === "pass") arrowPasses.push(v.id);
      if (outcome === "fail") failures.push(`${v.id}: expected NOT_APPLICABLE, got ${JSON.stringify(decoded).slice(0, 200)}; ${other.join("; ")}`);
    } else if (ledger.has(v.id)) {
      outcome = problems.length === 0 ? "pass" : "expectedFail";
      if (outcome === "pass") unexpectedPasses.push(v.id);
    } else {
      outcome = problems.length === 0 ? "pass" : "fail";
      if (outcome === "fail") failures.push(`${v.id}: ${problems.join("; ")}`);
    }
    tally[outcome]++;
    cell[outcome] = (cell[outcome] ?? 0) + 1;
  }
  for (const [g, c] of Object.entries(byGroup)) {
    t.diagnostic(`${g.padEnd(20)} pass ${c.pass}, not applicable ${c.notApplicable}, fail ${c.fail}, ledger ${c.expectedFail ?? 0}`);
  }
  t.diagnostic(
    `micropython lane: ${vectors.length} vectors: pass ${tally.pass}, not applicable ${tally.notApplicable}, ` +
      `fail ${tally.fail}, known failures (ledger) ${tally.expectedFail}`,
  );
  if (arrowPasses.length) t.diagnostic(`arrowtable vectors refused before the Arrow step, with the expected error: ${arrowPasses.join(", ")}`);
  assert.deepEqual(failures, []);
  assert.deepEqual(unexpectedPasses, [], "listed in conformance/expected-failures/micropython.txt but passing: remove them");
  const caseIds = new Set(loadCases().map((c) => c.id)); // behaviour cases: test/behaviour.test.mjs
  assert.deepEqual([...ledger.keys()].filter((id) => !vectors.some((v) => v.id === id) && !caseIds.has(id)), [], "ledger lines naming no vector or case");
  assert.equal(tally.pass + tally.notApplicable + tally.expectedFail, vectors.length);
  assert.ok(vectors.some((v) => v.bytes), "byte vectors (the hostile group) are run");
  assert.equal(tally.notApplicable + arrowPasses.length, vectors.filter(involvesArrow).length);
});

test("bad requests are answered INVALID_REQUEST and the testee goes on", async () => {
  const bad = [
    "not json",
    "[1, 2]",
    '{"op": "decode"}',
    '{"op": "decode", "text": 5}',
    '{"op": "launch"}',
    '{"op": "encode", "payloads": "x"}',
    '{"op": "encode", "payloads": [{"dataname": "a", "payload_type": "text"}]}',
    '{"op": "encode", "payloads": [{"dataname": "a", "payload_type": "binary", "base64": "not base64!"}]}',
    '{"op": "encode", "payloads": [{"dataname": "a", "payload_type": "text", "json": {}}]}',
    `{"op": "validate", "text": "x"${",".repeat(3)}`,
    "[".repeat(200000),
    '{"op": "decode", "text": "\\ud800"}',
    '{"op": "decode", "bytes": 5}',
    '{"op": "decode", "bytes": "not base64!"}',
    '{"op": "decode", "bytes": "YQ"}',
    '{"op": "decode", "bytes": "YQ==", "bytes": "YQ=="}',
    // send and fetch: an option the protocol does not have, or a request that is not one.
    '{"op": "send", "subject": "s", "payloads": [{"dataname": "a", "payload_type": "text", "text": "hi"}], "options": {"sizeThreshold": 1}}',
    '{"op": "send", "subject": "s", "payloads": [{"dataname": "a", "payload_type": "text", "text": "hi"}], "options": []}',
    '{"op": "send", "subject": "s", "payloads": [{"dataname": "a", "payload_type": "binary", "fill": {"byte": 256, "count": 1}}]}',
    '{"op": "send", "subject": "s", "payloads": [{"dataname": "a", "payload_type": "text", "fill": {"byte": 255, "count": 1}}]}',
    '{"op": "send", "subject": "s", "payloads": [{"dataname": "a", "payload_type": "binary", "fill": {"byte": 1}}]}',
    '{"op": "send", "subject": "s", "payloads": [{"dataname": "a", "payload_type": "text", "text": "hi"}], "fileserver": 5}',
    '{"op": "fetch"}',
    '{"op": "fetch", "url": "http://127.0.0.1:1/x", "options": {"retries": 3}}',
    '{"op": "fetch", "url": "http://127.0.0.1:1/x", "options": {"max_attempts": "3"}}',
  ];
  for (const line of bad) {
    const a = JSON.parse(await mp.send(line));
    assert.equal(a.ok, false, line.slice(0, 80));
    assert.equal(a.error, "INVALID_REQUEST", `${line.slice(0, 80)} -> ${JSON.stringify(a)}`);
  }
  // Input the decoder must refuse, not choke on.
  // Not strict JSON, or strict JSON that is no envelope: the same code (ERROR_NOT_JSON, ERROR_NOT_ENVELOPE).
  const notJson = profile("ERROR_NOT_JSON");
  assert.equal(profile("ERROR_NOT_ENVELOPE"), notJson);
  const hostile = ['{"a":' + "[".repeat(6000), "\u0000", "{}", '{"payloads": [null]}', "1e999999"];
  for (const text of hostile) {
    const a = await mp.ask("decode", text);
    assert.deepEqual([a.ok, a.error], [false, notJson], text.slice(0, 40));
    assert.deepEqual(await mp.ask("validate", text), { valid: false });
  }
  // The same through `bytes`: the exact body, which need not be UTF-8.
  const bodies = [Buffer.from([0xff, 0xfe]), Buffer.from("\ufeff{}"), Buffer.from('{"a":' + "[".repeat(6000)), Buffer.alloc(0),
    Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])];
  for (const body of bodies) {
    const a = await mp.request({ op: "decode", bytes: body.toString("base64") });
    assert.deepEqual([a.ok, a.error], [false, notJson], body.toString("hex").slice(0, 40));
  }
  const hello = await mp.request({ op: "hello" });
  assert.equal(hello.ok, true);
  assert.deepEqual(hello.capabilities.decode_input, ["text", "bytes"]);
});

test("decode takes the envelope as text or as bytes, with the same answer", async () => {
  for (const v of vectors.filter((v) => !v.bytes && !v.text.includes("{{BLOBS}}")).slice(0, 40)) {
    const byText = await mp.ask("decode", v.text);
    const byBytes = await mp.request({ op: "decode", bytes: Buffer.from(v.text, "utf8").toString("base64") });
    assert.deepEqual(byBytes, byText, v.id);
  }
});
