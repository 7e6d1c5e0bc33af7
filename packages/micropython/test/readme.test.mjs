/**
 * The README's example runs under MicroPython and prints what the README shows; its device
 * example (sockets) compiles under MicroPython.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { HERE, run, startMicroPython } from "../mp.mjs";

const README = readFileSync(`${HERE}README.md`, "utf8");

/** The first fenced block of `lang` after `marker`. */
function block(marker, lang) {
  const from = README.indexOf(marker);
  assert.ok(from >= 0, `README has no ${marker}`);
  const m = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(README.slice(from));
  assert.ok(m, `no ${lang} block after ${marker}`);
  return m[1];
}

test("the README example prints what the README says", async () => {
  const lines = [];
  const mp = await startMicroPython({ stdout: (s) => lines.push(s) });
  run(mp, block("<!-- example -->", "python"));
  assert.equal(lines.join("\n") + "\n", block("<!-- example -->", "text"));
});

test("the README device example compiles under MicroPython", async () => {
  const mp = await startMicroPython();
  mp.globals.set("SOURCE", block("<!-- device-example -->", "python"));
  run(mp, 'compile(SOURCE, "device-example", "exec")');
});
