/** Runs the README's two-minute example against real servers and checks what it prints. */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PACKAGE_DIR, run, startFileServer, startNats, type Running } from "./helpers.ts";

let nats: Running;
let files: Running;
const script = join(PACKAGE_DIR, "test", ".readme-example.mjs");

before(async () => {
  nats = await startNats();
  files = await startFileServer();
});
after(async () => {
  rmSync(script, { force: true });
  await files?.stop();
  await nats?.stop();
});

export function readmeExample(): string {
  const readme = readFileSync(join(PACKAGE_DIR, "README.md"), "utf8");
  const m = /<!-- example:[^\n]*-->\n```js\n([\s\S]*?)```/.exec(readme);
  if (m === null) throw new Error("README.md has no example block");
  return m[1]!;
}

test("the README example runs and prints what the README says", async () => {
  // Inside the package, `@natsbridge/client` resolves through the workspace to the compiled
  // packages; plain node, as a user runs it.
  writeFileSync(script, readmeExample());
  const r = await run(process.execPath, [script], { NATS_URL: nats.url, FILESERVER_URL: files.url });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.match(lines[0]!, /^sent [0-9a-f-]{36}$/);
  assert.deepEqual(lines.slice(1), [
    'greeting text direct "Hello from Node"',
    'config dictionary direct {"step_size":0.01,"iterations":1000}',
    "table arrowtable link 100000 rows",
  ]);
});
