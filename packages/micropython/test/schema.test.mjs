/**
 * generated/micropython/schema_v1.py (written by `cargo xtask codegen`, whose `--check` keeps
 * it fresh) gives MicroPython the schema's values, and its pattern steps match what the
 * schema's patterns match.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, test } from "node:test";
import { run, startMicroPython } from "../mp.mjs";
import { ROOT } from "../harness.mjs";

const schema = (name) => JSON.parse(readFileSync(`${ROOT}schema/${name}`, "utf8"));

let mp;
before(async () => {
  mp = await startMicroPython();
});

test("MicroPython reads the schema's values from schema_v1", () => {
  const defs = schema("common_v1.schema.json").definitions;
  run(mp, "import json\nfrom natsbridge_mp import schema_v1 as S");
  const py = (expr) => {
    run(mp, `OUT = json.dumps(${expr})`);
    return JSON.parse(mp.globals.get("OUT"));
  };
  assert.deepEqual(py("S.MSG_PURPOSE"), defs.MsgPurpose.enum);
  assert.deepEqual(py("S.PAYLOAD_TYPE"), defs.PayloadType.enum);
  assert.deepEqual(py("S.TRANSPORT"), defs.Transport.enum);
  assert.deepEqual(py("S.ENCODING"), defs.Encoding.enum);
  assert.deepEqual(py("S.ERROR_CODE"), defs.ErrorCode.enum);
  for (const [name, file] of [["MSG_ENVELOPE_V1_FIELDS", "msg_envelope_v1.schema.json"], ["MSG_PAYLOAD_V1_FIELDS", "msg_payload_v1.schema.json"]]) {
    const s = schema(file);
    const fields = py(`S.${name}`);
    assert.deepEqual(fields.map((f) => f[0]), Object.keys(s.properties));
    assert.deepEqual(fields.filter((f) => f[2]).map((f) => f[0]), s.required);
  }
});

test("the pattern steps match what the schema's patterns match", () => {
  const defs = schema("common_v1.schema.json").definitions;
  const samples = {
    uuid: ["00000001-0000-4000-8000-000000000001", "ABCDEF01-abcd-4000-8000-00000000000F", "0000000-0000-4000-8000-000000000001",
      "{00000001-0000-4000-8000-000000000001}", "00000001-0000-4000-8000-0000000000011", "00000001_0000-4000-8000-000000000001",
      "0000000g-0000-4000-8000-000000000001", "", "00000001-0000-4000-8000-000000000001\n"],
    timestamp: ["2026-03-13T07:02:50.443Z", "2026-03-13T07:02:50Z", "2026-03-13T07:02:50.123456789Z", "2026-03-13T07:02:50.1234567891Z",
      "2026-03-13T07:02:50.Z", "2026-03-13T07:02:50.443+01:00", "2026-03-13 07:02:50Z", "2026-03-13T07:02:50.443", "2026-3-13T07:02:50Z", ""],
  };
  run(mp, "from natsbridge_mp import codec");
  for (const [kind, def] of [["uuid", defs.Uuid], ["timestamp", defs.Timestamp]]) {
    const re = new RegExp(def.pattern, "u");
    for (const s of samples[kind]) {
      mp.globals.set("SAMPLE", s);
      run(mp, `OUT = json.dumps(codec.matches(SAMPLE, S.STRING_KINDS[${JSON.stringify(kind)}][1]))`);
      assert.equal(JSON.parse(mp.globals.get("OUT")), re.test(s), `${kind} ${JSON.stringify(s)}`);
    }
  }
});
