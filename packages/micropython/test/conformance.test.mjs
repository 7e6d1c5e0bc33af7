/**
 * Every vector of conformance/v1 through the MicroPython testee, with the runner's checks
 * (xtask/src/conformance.rs `check`: validate, reader and relay, decode) and its comparison.
 * Link vectors point at a node:http server over conformance/v1 on a free loopback port, the
 * host substituted for `{{BLOBS}}` as the runner does. Vectors carrying an arrowtable payload
 * must be answered NOT_APPLICABLE (there is no Arrow on MicroPython) unless the decoding rules
 * refuse them, as expected, before the Arrow step; every other vector must pass.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { LANES, checkVector, involvesArrow, loadVectors, startBlobServer } from "../harness.mjs";

let blobs;
let mp;
const vectors = loadVectors();

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
  assert.deepEqual(c.ops, ["hello", "validate", "roundtrip", "decode", "encode"]);
  assert.ok(!c.payload_types.includes("arrowtable"));
  assert.deepEqual(c.not_applicable, ["arrowtable"]);
  assert.equal(c.link_download, "host-tcp");
});

test("every vector of conformance/v1: pass, or not applicable (arrowtable)", async (t) => {
  const tally = { pass: 0, notApplicable: 0, fail: 0 };
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
    } else {
      outcome = problems.length === 0 ? "pass" : "fail";
      if (outcome === "fail") failures.push(`${v.id}: ${problems.join("; ")}`);
    }
    tally[outcome]++;
    cell[outcome]++;
  }
  for (const [g, c] of Object.entries(byGroup)) {
    t.diagnostic(`${g.padEnd(20)} pass ${c.pass}, not applicable ${c.notApplicable}, fail ${c.fail}`);
  }
  t.diagnostic(`micropython lane: ${vectors.length} vectors: pass ${tally.pass}, not applicable ${tally.notApplicable}, fail ${tally.fail}`);
  if (arrowPasses.length) t.diagnostic(`arrowtable vectors refused before the Arrow step, with the expected error: ${arrowPasses.join(", ")}`);
  assert.deepEqual(failures, []);
  assert.equal(tally.pass + tally.notApplicable, vectors.length);
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
    "[".repeat(100000),
    '{"op": "decode", "text": "\\ud800"}',
  ];
  for (const line of bad) {
    const a = JSON.parse(await mp.send(line));
    assert.equal(a.ok, false, line.slice(0, 80));
    assert.equal(a.error, "INVALID_REQUEST", `${line.slice(0, 80)} -> ${JSON.stringify(a)}`);
  }
  // Input the decoder must refuse, not choke on.
  const hostile = ['{"a":' + "[".repeat(5000), "\u0000", "{}", '{"payloads": [null]}', "1e999999"];
  for (const text of hostile) {
    const a = await mp.ask("decode", text);
    assert.deepEqual([a.ok, a.error], [false, "INVALID_ENVELOPE"], text.slice(0, 40));
    assert.deepEqual(await mp.ask("validate", text), { valid: false });
  }
  assert.equal((await mp.request({ op: "hello" })).ok, true);
});
