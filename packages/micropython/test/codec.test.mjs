/**
 * codec.py under the real MicroPython, beyond the conformance vectors: strict JSON, UTF-8 and
 * base64, every supported payload type both ways, links through caller-supplied upload and
 * download functions, max_payload fitting, typed errors (test/codec_cases.py).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, test } from "node:test";
import { HERE, run, startMicroPython } from "../mp.mjs";

let mp;
before(async () => {
  mp = await startMicroPython({ extra: { "codec_cases.py": readFileSync(`${HERE}test/codec_cases.py`, "utf8") } });
});

test("codec cases", async (t) => {
  run(mp, "import json, codec_cases\nCASE_NAMES = json.dumps(codec_cases.CASES)");
  const cases = JSON.parse(mp.globals.get("CASE_NAMES"));
  assert.ok(cases.length >= 8);
  for (const name of cases) {
    await t.test(name, () => run(mp, `codec_cases.${name}()`));
  }
});
