// Validates schema/asyncapi.yaml with the official AsyncAPI parser; exits 1 on any
// error-severity diagnostic (warnings are printed). Run by `cargo xtask test`.
import { resolve } from "node:path";
import { Parser, fromFile } from "@asyncapi/parser";

const path = resolve(process.argv[2] ?? "schema/asyncapi.yaml");
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, path).parse();
const severities = ["error", "warning", "info", "hint"];
let errors = 0;
for (const d of diagnostics) {
  const sev = severities[d.severity] ?? String(d.severity);
  if (d.severity === 0) errors++;
  if (d.severity <= 1) console.log(`${sev}: ${d.message} at /${d.path.join("/")}`);
}
if (errors > 0 || document === undefined) {
  console.error(`asyncapi: ${path} has ${errors} error(s)`);
  process.exit(1);
}
const ops = document.operations().all().map((o) => o.id());
const chans = document.channels().all().map((c) => c.id());
const msgs = document.allMessages().all().map((m) => m.name());
// The payload schemas must have been resolved from the *.schema.json files.
const env = document.allMessages().all().find((m) => m.name() === "msg_envelope_v1");
const required = env?.payload()?.required() ?? [];
if (!required.includes("correlation_id") || !required.includes("payloads")) {
  console.error("asyncapi: msg_envelope_v1 payload schema did not resolve from schema/msg_envelope_v1.schema.json");
  process.exit(1);
}
console.log(`asyncapi: ${path} is valid AsyncAPI ${document.version()}: ${chans.length} channels, ${ops.length} operations, messages ${[...new Set(msgs)].join(", ")}`);
