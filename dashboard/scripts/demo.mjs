// The browser side of the demo: headless Chromium (fake microphone playing a tone) against
// `natsbridge-demo dashboard` at full size (10 000 000 rows, 600 s window, 600 health messages
// backfilled), already running (--url) or started here ($NATSBRIDGE_DEMO_BIN, default
// target/debug/natsbridge-demo) with its WebSocket listener over TLS and a token
// (`--ws-tls --ws-auth token`; Chromium trusts that one certificate by its SPKI pin). Runs
// the four panels as a person would (and sends a 5 MB WAV file, which goes by link), closes
// the page, reopens it to catch up on the whole window, and prints
// scenario | result | figure plus the tab's peak memory. Exits 1 when any check fails.
//
//   node scripts/demo.mjs [--url http://127.0.0.1:8090/ [--log-file PATH] [--spki PIN]] [--closed-secs S] [--tone HZ]
//                         [--clip-hz HZ] [--json]
//                         [--rows N] [--window SECS] [--interval-ms MS] [--plain]   (when it starts the service;
//                          --plain: ws:// without a token)
//                         [--small]   (1 000 000 rows instead of 10 000 000)
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  ARTIFACTS,
  collectErrors,
  demoBin,
  launchChromium,
  panelSettled,
  rendererMemory,
  startDashboard,
  tableMemoryProbe,
  text,
  writeToneWav,
  CLIP_SAMPLES,
} from "../test/harness.mjs";

const { values: opt } = parseArgs({
  options: {
    url: { type: "string" },
    "log-file": { type: "string" },
    rows: { type: "string" },
    small: { type: "boolean", default: false },
    window: { type: "string", default: "600" },
    "interval-ms": { type: "string", default: "1000" },
    "closed-secs": { type: "string", default: "3" },
    tone: { type: "string", default: "880" },
    "clip-hz": { type: "string", default: "1500" },
    spki: { type: "string" },
    plain: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  },
});
opt.rows ??= opt.small ? "1000000" : "10000000";
const toneHz = Number(opt.tone);
const clipHz = Number(opt["clip-hz"]);
const closedSecs = Number(opt["closed-secs"]);

const results = [];
let failed = false;
function row(scenario, ok, result, figure) {
  results.push({ scenario, ok, result, figure });
  if (!ok) failed = true;
}

const mb = (b) => (b / 1e6).toFixed(1);

let service;
let browser;
let tableFigures;
let tableMemory;
try {
  let dashboardUrl = opt.url;
  let logFile = opt["log-file"];
  let spki = opt.spki;
  let backfill;
  if (dashboardUrl === undefined) {
    const bin = demoBin();
    process.stderr.write(`starting ${bin} dashboard (${opt.rows} rows, window ${opt.window} s${opt.plain ? "" : ", wss + token"})…\n`);
    service = await startDashboard(bin, [
      "--listen", "127.0.0.1:0",
      "--table-rows", opt.rows,
      "--health-window-secs", opt.window,
      "--health-interval-ms", opt["interval-ms"],
      ...(opt.plain ? [] : ["--ws-tls", "--ws-auth", "token"]),
    ]);
    dashboardUrl = service.ready.dashboard;
    logFile = service.ready.log_file;
    spki = service.ready.ws_tls?.spki_sha256;
    backfill = service.ready.health_backfill;
  }
  if (!dashboardUrl.endsWith("/")) dashboardUrl += "/";
  // The listener's credential, as the page gets it (to check that it shows up nowhere).
  const served = await (await fetch(new URL("config.json", dashboardUrl))).json();
  const secret = served.nats_token ?? served.nats_password;
  mkdirSync(ARTIFACTS, { recursive: true });
  const wav = writeToneWav(join(ARTIFACTS, `tone-${toneHz}.wav`), { hz: toneHz, seconds: 3 });
  const clip = writeToneWav(join(ARTIFACTS, `clip-${clipHz}.wav`), { hz: clipHz, samples: CLIP_SAMPLES, sampleRate: 44_100 });
  browser = await launchChromium(wav, { spki });
  // The renderers' peak RSS, sampled while the first page lives (its renderer may go with it).
  const rendererPeaks = new Map();
  const sampleRenderers = async () => {
    for (const r of await rendererMemory(browser).catch(() => [])) {
      rendererPeaks.set(r.pid, Math.max(rendererPeaks.get(r.pid) ?? 0, r.peakRssBytes));
    }
  };
  const rssSampler = setInterval(() => void sampleRenderers(), 500);

  let page = await browser.newPage();
  const errors = collectErrors(page);
  let cdp = await page.createCDPSession();
  await cdp.send("Performance.enable");
  let heapPeak = 0;
  const sampleHeap = async () => {
    try {
      const { metrics } = await cdp.send("Performance.getMetrics");
      const used = metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0;
      if (used > heapPeak) heapPeak = used;
    } catch {
      // page closing
    }
  };
  const sampler = setInterval(sampleHeap, 100);

  await page.goto(dashboardUrl, { waitUntil: "load" });
  await page.evaluate(() => window.__dashboard.ready);
  const config = await page.evaluate(() => window.__dashboard.config);
  process.stderr.write(`page ${dashboardUrl}: NATS ${config.nats_ws_url}, files ${config.fileserver_url}\n`);
  const conn = await text(page, "#conn");
  const auth = config.nats_token !== undefined ? "token" : config.nats_user !== undefined ? "user + password" : "no credential";
  row("connection", conn.startsWith("NATS "), `${config.nats_ws_url.split(":")[0]}, ${auth}`, spki === undefined ? "no certificate pin" : `server certificate pinned (SPKI sha256 ${spki.slice(0, 12)}…)`);

  // 1. command & control
  await page.click("#cmd-start");
  const cmdState = await panelSettled(page, "command", 30_000);
  const cmdStatus = await text(page, "#cmd-status");
  row("command", cmdState === "done" && cmdStatus === "Running", `status ${cmdStatus}`, `rtt ${await text(page, "#cmd-rtt-ms")} ms`);

  // 2. deep dive: the renderer's peak RSS during the transfer (download + verify + decode),
  // read between the page's two probe calls (test/harness.mjs tableMemoryProbe).
  process.stderr.write(`loading the ${config.table_rows}-row table…\n`);
  const probe = await tableMemoryProbe(browser, page);
  await page.click("#table-load");
  const tableState = await panelSettled(page, "table", 400_000);
  await sampleHeap();
  const rows = Number(await text(page, "#table-rows"));
  const zero = await text(page, "#table-zero-copy");
  const tableOk = tableState === "done" && rows === config.table_rows && zero === "yes";
  const tableMb = Number(await text(page, "#table-mb"));
  row(
    "deep dive",
    tableOk,
    tableOk ? `${rows} rows, zero-copy ${zero}` : `${tableState}: ${await text(page, "#table-error")}`,
    `${tableMb} MB, ${await text(page, "#table-mbps")} MB/s, ${await text(page, "#table-seconds")} s download+verify+decode (${await text(page, "#table-verify")}; service ${await text(page, "#table-service-seconds")} s)`,
  );
  tableFigures = {
    mb: tableMb,
    seconds: Number(await text(page, "#table-seconds")),
    mbps: Number(await text(page, "#table-mbps")),
    download_seconds: Number(await text(page, "#table-download-seconds")),
    download_mbps: Number(await text(page, "#table-download-mbps")),
    rate_ratio: Number(await text(page, "#table-rate-ratio")),
    hash_mbps: Number(await text(page, "#table-hash-mbps")),
  };
  row(
    "table rate",
    tableOk,
    `${tableFigures.rate_ratio}x the download alone's rate${tableFigures.rate_ratio < 0.8 ? " (below the 0.8x target)" : ""}`,
    `download alone ${tableFigures.download_seconds} s (${tableFigures.download_mbps} MB/s); SHA-256 alone in the page ${tableFigures.hash_mbps} MB/s (target 0.8x; the hash bounds it at ${Math.min(1, tableFigures.hash_mbps / tableFigures.download_mbps).toFixed(2)}x beside the download, ${(tableFigures.hash_mbps / (tableFigures.hash_mbps + tableFigures.download_mbps)).toFixed(2)}x after it)`,
  );
  tableMemory = probe.result();
  if (tableMemory === undefined) {
    row("table memory", false, "the page did not call the memory probe", "");
  } else {
    const over = tableMemory.riseBytes / (tableMb * 1e6);
    row(
      "table memory",
      over <= 1.5,
      `renderer peak during the transfer ${mb(tableMemory.peakBytes)} MB`,
      `${mb(tableMemory.riseBytes)} MB above the ${mb(tableMemory.beforeBytes)} MB before = ${over.toFixed(2)}x the table (target 1.5x); the whole renderer ${(tableMemory.peakBytes / (tableMb * 1e6)).toFixed(2)}x`,
    );
  }

  // 3. audio
  await page.click("#audio-record");
  const audioState = await panelSettled(page, "audio", 60_000);
  const peak = Number(await text(page, "#audio-peak-hz"));
  row(
    "audio",
    audioState === "done" && Math.abs(peak - toneHz) <= 15,
    audioState === "done" ? `peak ${peak} Hz` : `${audioState}: ${await text(page, "#audio-error")}`,
    `fed ${toneHz} Hz; ${await text(page, "#audio-sample-rate")} Hz sample rate, rtt ${await text(page, "#audio-rtt-ms")} ms`,
  );

  // 3b. a 5 MB WAV file, chosen in the file input: by link, uploaded from the page.
  await (await page.$("#audio-file")).uploadFile(clip);
  await page.$eval("#panel-audio", (e) => { e.dataset.state = "idle"; });
  await page.click("#audio-send-file");
  const fileState = await panelSettled(page, "audio", 300_000);
  const filePeak = Number(await text(page, "#audio-peak-hz"));
  const fileTransport = await text(page, "#audio-transport");
  const fileBytes = Number(await text(page, "#audio-bytes"));
  const arrived = /it arrived link\)$/.test(await text(page, "#audio-status"));
  row(
    "audio file",
    fileState === "done" && fileTransport === "link" && arrived && fileBytes >= 5_000_000 && Math.abs(filePeak - clipHz) <= 0.5,
    fileState === "done" ? `${mb(fileBytes)} MB WAV ${fileTransport}, peak ${filePeak} Hz` : `${fileState}: ${await text(page, "#audio-error")}`,
    `fed ${clipHz} Hz; upload + publish ${await text(page, "#audio-send-ms")} ms, round trip ${await text(page, "#audio-rtt-ms")} ms`,
  );

  // 4. catch-up: close the page, let the service publish, reopen with the configured window.
  await page.evaluate(() => window.__dashboard.health.replayed);
  const before = await page.evaluate(() => JSON.parse(JSON.stringify(window.__dashboard.health.state)));
  const lastSeen = Math.max(0, ...before.replayedStreamSeqs, ...before.liveStreamSeqs);
  await page.screenshot({ path: join(ARTIFACTS, "demo.png"), fullPage: true });
  const shownIds = await page.$$eval("#log li", (lis) => lis.map((li) => li.dataset.correlationId));
  await sampleRenderers();
  clearInterval(sampler);
  await page.close();
  await new Promise((r) => setTimeout(r, closedSecs * 1000));
  page = await browser.newPage();
  const errors2 = collectErrors(page);
  cdp = await page.createCDPSession();
  await cdp.send("Performance.enable");
  const sampler2 = setInterval(sampleHeap, 100);
  await page.goto(dashboardUrl, { waitUntil: "load" });
  await page.evaluate(() => window.__dashboard.ready);
  const s = await page.evaluate(() => window.__dashboard.health.replayed.then((x) => JSON.parse(JSON.stringify(x))));
  clearInterval(sampler2);
  await sampleHeap();
  let contiguous = s.replayed > 0 && s.replayedStreamSeqs.at(-1) === s.lastSeqAtOpen;
  for (let i = 1; i < s.replayedStreamSeqs.length; i++) contiguous &&= s.replayedStreamSeqs[i] === s.replayedStreamSeqs[i - 1] + 1;
  const caughtUp = s.lastSeqAtOpen > lastSeen && s.replayedStreamSeqs[0] <= lastSeen + 1;
  // Every 10th health message carries a snapshot by link: exactly those came as links.
  const everyTenth = s.replayedHealthSeqs.filter((q) => q % 10 === 0).length;
  const wantBackfill = backfill ?? 0;
  const scale = s.replayed >= 600 && s.links >= 60 && s.links === everyTenth && s.backfilled >= wantBackfill;
  const healthOk = contiguous && caughtUp && scale && s.errors.length === 0;
  row(
    "catch-up",
    healthOk,
    `replayed ${s.replayed} (${s.backfilled} backfilled), links ${s.links} (every 10th: ${everyTenth})`,
    `window ${s.windowSecs} s, oldest health time ${s.oldest ?? "–"}, closed ${closedSecs} s (seqs ${s.replayedStreamSeqs[0] ?? "–"}..${s.lastSeqAtOpen}, ${s.lastSeqAtOpen - lastSeen} published while closed), replay ${s.replaySeconds.toFixed(3)} s`,
  );
  // Then live: new messages keep arriving after the replay (some may have come while it ran).
  const liveAt = Date.now();
  const live0 = await page.evaluate(() => window.__dashboard.health.state.live);
  const live = await page
    .waitForFunction((n) => window.__dashboard.health.state.live >= n + 3, { timeout: 30_000, polling: 100 }, live0)
    .then(() => true, () => false);
  const liveN = await page.evaluate(() => window.__dashboard.health.state.live);
  row("catch-up live", live, `${live0} live during the replay's end, ${liveN - live0} more after`, `3 more in ${((Date.now() - liveAt) / 1000).toFixed(1)} s`);

  // The log strip's ids in the service's log.
  if (logFile !== undefined) {
    const { readFileSync } = await import("node:fs");
    const logText = readFileSync(logFile, "utf8");
    const ids = [...new Set([...shownIds, ...(await page.$$eval("#log li", (lis) => lis.map((li) => li.dataset.correlationId)))])];
    const missing = ids.filter((id) => !logText.includes(id));
    row("log strip", missing.length === 0, `${ids.length} envelopes shown (both visits)`, missing.length === 0 ? "every correlation id in the service's log" : `missing from the log: ${missing.slice(0, 3).join(", ")}`);
  }
  if (secret !== undefined) {
    const strips = (await page.$eval("#log", (e) => e.textContent ?? "")) + (await page.evaluate(() => JSON.stringify(window.__dashboard.log()) + document.body.innerText));
    const logged = logFile === undefined ? "" : (await import("node:fs")).readFileSync(logFile, "utf8");
    const leaks = [["the log strip and page", strips], ["the service's log", logged], ["the page's envelopes (broker_url)", config.nats_ws_url]].filter(([, t]) => t.includes(secret)).map(([w]) => w);
    row("credential", leaks.length === 0, leaks.length === 0 ? "not in the log strip, page, log file or broker_url" : `LEAKED into ${leaks.join(", ")}`, "");
  }
  const allErrors = [...errors, ...errors2];
  row("console", allErrors.length === 0, allErrors.length === 0 ? "no errors" : allErrors.slice(0, 3).join(" | "), `${allErrors.length} errors`);

  await sampleRenderers();
  clearInterval(rssSampler);
  const rssPeak = Math.max(0, ...rendererPeaks.values());
  row("tab memory", true, `JS heap peak ${mb(heapPeak)} MB`, rssPeak > 0 ? `renderer peak RSS over the whole session ${mb(rssPeak)} MB (VmHWM; includes the download-alone comparison run after the transfer)` : "renderer RSS unavailable");

  const widths = [13, 6, 50];
  const line = (cells) => cells.map((c, i) => (i < widths.length ? String(c).padEnd(widths[i]) : String(c))).join(" | ");
  console.log(line(["scenario", "check", "result", "figure"]));
  console.log(line(["-".repeat(13), "-".repeat(6), "-".repeat(50), "-".repeat(20)]));
  for (const r of results) console.log(line([r.scenario, r.ok ? "ok" : "FAIL", r.result, r.figure]));
  if (opt.json) console.log(JSON.stringify({ results, heap_peak_bytes: heapPeak, renderer_peak_rss_bytes: rssPeak, table: tableFigures, table_transfer_memory: tableMemory }));
} catch (e) {
  failed = true;
  console.error(`demo failed: ${e?.stack ?? e}`);
  if (service !== undefined) console.error(service.stderr().slice(-3000));
} finally {
  await browser?.close().catch(() => {});
  await service?.stop();
}
process.exit(failed ? 1 : 0);
