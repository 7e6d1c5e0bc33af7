/**
 * nats.py and http.py under the real MicroPython (WebAssembly port): every module of the package
 * compiles (`compile(source, name, "exec")` inside MicroPython); their socket code cannot run in
 * this port (it has no `socket` module, which this test shows: device.test.mjs runs it under the
 * MicroPython unix port against real servers); their pure parts (NATS frame parsing and commands,
 * HTTP responses, retries, Retry-After, the deadline, Plik bodies) run on sample byte strings, a
 * NATS frame split across two reads included (test/protocol_cases.py).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, test } from "node:test";
import { HERE, packageSources, run, startMicroPython } from "../mp.mjs";

let mp;
before(async () => {
  mp = await startMicroPython({ extra: { "protocol_cases.py": readFileSync(`${HERE}test/protocol_cases.py`, "utf8") } });
});

test("every module compiles under MicroPython 1.27", () => {
  const sources = {
    ...Object.fromEntries(Object.entries(packageSources()).map(([f, s]) => [`natsbridge_mp/${f}`, s])),
    "testee_adapter.py": readFileSync(`${HERE}testee_adapter.py`, "utf8"),
  };
  mp.globals.set("SOURCES", JSON.stringify(sources));
  run(
    mp,
    `
import json, sys
assert sys.implementation.name == "micropython" and sys.implementation.version[:2] == (1, 27), sys.implementation
for name, source in json.loads(SOURCES).items():
    compile(source, name, "exec")
`,
  );
  assert.ok(Object.keys(sources).length >= 6);
});

test("the socket parts cannot run here: no socket module in the WebAssembly port", () => {
  run(
    mp,
    `
from natsbridge_mp import http, nats
for fn in (lambda: nats.Client().connect("nats://127.0.0.1:4222"),
           lambda: http.download("http://127.0.0.1:1/x", 1, attempts=1),
           lambda: http.request("GET", "http://127.0.0.1:1/")):
    try:
        fn()
        raise AssertionError("a socket opened")
    except ImportError as e:
        assert "socket" in str(e), e
`,
  );
});

test("pure protocol code on real byte strings", async (t) => {
  run(mp, "import json, protocol_cases\nCASE_NAMES = json.dumps(protocol_cases.CASES)");
  const cases = JSON.parse(mp.globals.get("CASE_NAMES"));
  assert.ok(cases.includes("case_nats_frame_split_across_two_reads"));
  for (const name of cases) {
    await t.test(name, () => run(mp, `protocol_cases.${name}()`));
  }
});
