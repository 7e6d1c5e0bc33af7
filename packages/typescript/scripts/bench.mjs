#!/usr/bin/env node
// 1 KB dictionary smartsend → smartreceive in one process, no network: smartsend without
// publishing, then smartreceive of the envelope bytes. Prints messages per second per run.
//   node --import tsx scripts/bench.mjs [messages-per-run] [runs]
import { smartreceive, smartsend } from "../dist/node.js";

const perRun = Number(process.argv[2] ?? 20000);
const runs = Number(process.argv[3] ?? 5);
const dict = { kind: "health", values: [] };
while (JSON.stringify(dict).length < 1024) dict.values.push(Math.round(Math.random() * 1e6));
const size = new TextEncoder().encode(JSON.stringify(dict)).length;
const enc = new TextEncoder();

async function once() {
  const sent = await smartsend("bench.dict", [["d", dict, "dictionary"]], { publish: false });
  const received = await smartreceive(enc.encode(sent.json));
  if (received.payloads[0].data.kind !== "health") throw new Error("wrong data");
}

for (let i = 0; i < 2000; i++) await once(); // warm-up
const rates = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  for (let i = 0; i < perRun; i++) await once();
  const s = (performance.now() - t0) / 1000;
  rates.push(perRun / s);
}
rates.sort((a, b) => a - b);
console.log(JSON.stringify({
  bench: "1KB dictionary smartsend(publish:false) → smartreceive, one process",
  payload_bytes: size,
  messages_per_run: perRun,
  runs,
  msgs_per_s_median: Math.round(rates[Math.floor(rates.length / 2)]),
  msgs_per_s_min: Math.round(rates[0]),
  msgs_per_s_max: Math.round(rates[rates.length - 1]),
  node: process.version,
}));
