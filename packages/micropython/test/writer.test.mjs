/**
 * The writer side (conformance/README.md "The writer side", xtask/src/conformance/writer.rs)
 * for the MicroPython lane: the cases are the valid, decodable, all-direct vectors of
 * `payload-types` and `strings`. MicroPython's smartsend encodes each case; the envelope must
 * carry the requested ids, pass the strict validator of MicroPython, CPython (the Python
 * runtime's testee) and TypeScript (the TypeScript runtime's testee), and decode in all three
 * to the values given. The other way round, MicroPython reads what the Python and TypeScript
 * writers produce. Cases with an arrowtable payload are NOT_APPLICABLE for MicroPython, as
 * writer and as reader.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { LANES, loadVectors, same, startBlobServer } from "../harness.mjs";

const WRITER_GROUPS = ["payload-types", "strings"];
const CORRELATION_ID = "0000c0de-0000-4000-8000-00000000c0de";
const MSG_ID = "0000beef-0000-4000-8000-00000000beef";
const READERS = ["micropython", "python", "typescript"];

/** writer.rs `cases`: the encode request and the decode every reader must produce. */
function cases() {
  const out = [];
  for (const v of loadVectors()) {
    if (!WRITER_GROUPS.includes(v.group) || v.expect.valid !== true || v.expect.decode.ok !== true) continue;
    const carried = JSON.parse(v.text).payloads;
    const expect = v.expect.decode.payloads;
    if (carried.length !== expect.length || carried.some((p) => p.transport !== "direct")) continue;
    const payloads = carried.map((p, i) => {
      const want = expect[i];
      const given = { dataname: want.dataname, payload_type: want.payload_type };
      if (want.payload_type === "text") given.text = want.text;
      else if (want.payload_type === "dictionary" || want.payload_type === "jsontable") given.json = want.json;
      else given.base64 = p.data;
      return given;
    });
    const request = { op: "encode", correlation_id: CORRELATION_ID, msg_id: MSG_ID, payloads };
    out.push({ id: `writer/${v.id}`, request, expect, arrow: expect.some((p) => p.payload_type === "arrowtable") });
  }
  return out;
}

/** writer.rs `decode_problems`. */
function decodeProblems(c, decoded) {
  if (decoded.ok !== true) return [`decode failed: ${JSON.stringify(decoded).slice(0, 300)}`];
  if (!Array.isArray(decoded.payloads)) return ["decode has no payloads"];
  if (decoded.payloads.length !== c.expect.length) return [`${decoded.payloads.length} payloads decoded, ${c.expect.length} given`];
  const problems = [];
  decoded.payloads.forEach((g, i) => {
    const w = c.expect[i];
    const keys = ["dataname", "payload_type", "transport"];
    const kind = w.payload_type;
    if (kind === "text") keys.push("text", "size", "sha256");
    else if (kind === "dictionary") keys.push("json");
    else if (kind === "jsontable") keys.push("json", "num_rows");
    else if (kind === "arrowtable") keys.push("num_rows", "arrow_schema");
    else keys.push("size", "sha256");
    for (const k of keys) {
      if (!same(g[k] ?? null, w[k] ?? null)) problems.push(`${w.dataname} \`${k}\`: ${JSON.stringify(g[k])} instead of ${JSON.stringify(w[k])}`);
    }
  });
  return problems;
}

let blobs;
const lanes = {};

before(async () => {
  blobs = await startBlobServer();
  for (const l of READERS) lanes[l] = LANES[l](`http://${blobs.base}`);
});

after(async () => {
  for (const t of Object.values(lanes)) await t.close();
  await blobs?.close();
});

/** Encodes `c` with `writer`; reads the envelope with `readers`. Returns {na, problems}. */
async function writeAndRead(c, writer, readers) {
  const answer = await lanes[writer].request(c.request);
  if (answer.error === "NOT_APPLICABLE") return { na: true, problems: c.arrow ? [] : [`${writer} says NOT_APPLICABLE`] };
  if (answer.ok !== true || typeof answer.text !== "string") return { problems: [`${writer} encode failed: ${JSON.stringify(answer).slice(0, 300)}`] };
  const text = answer.text;
  const env = JSON.parse(text);
  const problems = [];
  if (env.correlation_id !== CORRELATION_ID || env.msg_id !== MSG_ID) problems.push(`${writer}: the envelope's ids are not the requested ones`);
  let first = null;
  let na = false;
  for (const r of readers) {
    if ((await lanes[r].ask("validate", text)).valid !== true) problems.push(`${r}'s validator rejects ${writer}'s envelope`);
    const decoded = await lanes[r].ask("decode", text);
    if (decoded.error === "NOT_APPLICABLE" && c.arrow) {
      na = true;
      continue;
    }
    problems.push(...decodeProblems(c, decoded).map((p) => `read by ${r}: ${p}`));
    if (first === null) first = [r, decoded];
    else if (!same(first[1], decoded)) problems.push(`${r} decodes otherwise than ${first[0]}: ${JSON.stringify(decoded).slice(0, 300)}`);
  }
  return { na, problems };
}

test("MicroPython writes every writer case; MicroPython, CPython and TypeScript read it back", async (t) => {
  const all = cases();
  assert.ok(all.length > 0);
  const failures = [];
  let pass = 0;
  let na = 0;
  for (const c of all) {
    const { na: notApplicable, problems } = await writeAndRead(c, "micropython", READERS);
    if (problems.length) failures.push(`${c.id}: ${problems.join("; ")}`);
    else if (notApplicable) na++;
    else pass++;
  }
  t.diagnostic(`writer micropython: ${all.length} cases × readers ${READERS.join(", ")}: pass ${pass}, not applicable ${na} (arrowtable), fail ${failures.length}`);
  assert.deepEqual(failures, []);
  assert.equal(na, all.filter((c) => c.arrow).length);
});

for (const writer of ["python", "typescript"]) {
  test(`MicroPython reads what the ${writer} writer produces`, async (t) => {
    const all = cases();
    const failures = [];
    let pass = 0;
    let na = 0;
    for (const c of all) {
      // The writer's own decode first: the MicroPython reader must agree with it.
      const { na: notApplicable, problems } = await writeAndRead(c, writer, [writer, "micropython"]);
      if (problems.length) failures.push(`${c.id}: ${problems.join("; ")}`);
      else if (notApplicable) na++;
      else pass++;
    }
    t.diagnostic(`writer ${writer}, reader micropython: ${all.length} cases: pass ${pass}, not applicable ${na} (arrowtable), fail ${failures.length}`);
    assert.deepEqual(failures, []);
    assert.equal(na, all.filter((c) => c.arrow).length);
  });
}
