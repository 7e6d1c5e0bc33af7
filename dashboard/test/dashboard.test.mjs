// The dashboard in headless Chromium against a real `natsbridge-demo dashboard` (nats-server
// with JetStream and WebSocket, the file server with CORS, the compute service): the four
// panels driven from the DOM as a person would, with a fake microphone playing an 880 Hz
// tone. Nothing is skipped: a missing Chromium or binary fails with the command to get it.
//
// Catch-up: the page opens with a 3 s window, is closed while the service keeps publishing,
// and reopens with a wider window; the replay must be exactly the messages stored in that
// window (checked against the Node runtime's own pull consumer over the same stream, the
// server's stored timestamps at the window's edge, and the service's log file).
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { wsconnect } from "@nats-io/nats-core";
import { EnvelopeConsumer, connect } from "@natsbridge/client";
import {
  ARTIFACTS,
  REPO_ROOT,
  collectErrors,
  demoBin,
  launchChromium,
  panelSettled,
  startDashboard,
  text,
  writeToneWav,
} from "./harness.mjs";

const TONE_HZ = 880;
const INTERVAL_MS = 200;
const TABLE_ROWS = 1_000_000;
const REOPEN_WINDOW_S = 6;

let service;
let browser;
let page;
let errors;
const pageErrors = [];
/** Correlation ids shown in the log strips of every page opened. */
const stripIds = new Set();

async function openPage(query) {
  const p = await browser.newPage();
  const errs = collectErrors(p);
  pageErrors.push(errs);
  await p.goto(`${service.ready.dashboard}${query}`, { waitUntil: "load" });
  await p.evaluate(() => window.__dashboard.ready);
  return { page: p, errors: errs };
}

async function collectStrip(p) {
  const rows = await p.$$eval("#log li", (lis) =>
    lis.map((li) => ({ cid: li.dataset.correlationId, direction: li.dataset.direction, subject: li.dataset.subject })),
  );
  for (const r of rows) {
    assert.match(r.cid ?? "", /^[0-9a-f-]{36}$/, "a correlation id on every log entry");
    assert.ok(r.direction === "sent" || r.direction === "received", `direction ${r.direction}`);
    assert.ok((r.subject ?? "") !== "", "a subject on every log entry");
    stripIds.add(r.cid);
  }
  return rows;
}

async function healthState(p) {
  return p.evaluate(() => {
    const s = window.__dashboard.health.state;
    return JSON.parse(JSON.stringify(s));
  });
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const wav = writeToneWav(join(ARTIFACTS, `tone-${TONE_HZ}.wav`), { hz: TONE_HZ, seconds: 3, sampleRate: 44_100 });
  const bin = demoBin();
  browser = await launchChromium(wav);
  service = await startDashboard(bin, [
    "--listen", "127.0.0.1:0",
    "--table-rows", String(TABLE_ROWS),
    "--health-window-secs", "600",
    "--health-interval-ms", String(INTERVAL_MS),
  ]);
  // Let the service publish for a while before the page first opens.
  await new Promise((r) => setTimeout(r, 3000));
  ({ page, errors } = await openPage("?window=3"));
});

after(async () => {
  await browser?.close();
  await service?.stop();
});

test("the page reads /config.json and connects over WebSocket", async () => {
  const config = await page.evaluate(() => window.__dashboard.config);
  assert.equal(config.nats_ws_url, service.ready.nats_ws_url);
  assert.equal(config.fileserver_url, service.ready.fileserver_url);
  assert.equal(config.table_rows, TABLE_ROWS);
  assert.equal(config.health_window_secs, 3, "?window=3 overrides the served window");
  assert.match(await text(page, "#conn"), /^NATS ws:\/\//);
});

test("command & control: Start Simulation answers Running through reply_to, with a round trip", async () => {
  await page.$eval("#cmd-step", (e) => { e.value = "0.05"; });
  await page.$eval("#cmd-iterations", (e) => { e.value = "250"; });
  await page.click("#cmd-start");
  assert.equal(await panelSettled(page, "command", 20_000), "done", await text(page, "#command-error"));
  assert.equal(await text(page, "#cmd-status"), "Running");
  const rtt = Number(await text(page, "#cmd-rtt-ms"));
  assert.ok(rtt > 0 && rtt < 10_000, `rtt ${rtt} ms`);
  assert.equal(await text(page, "#cmd-transport"), "direct");
  const cid = await text(page, "#cmd-cid");
  const entries = await page.$$eval(`#log li[data-correlation-id="${cid}"]`, (lis) => lis.map((li) => [li.dataset.direction, li.dataset.subject]));
  assert.deepEqual(entries.map((e) => e[0]).sort(), ["received", "sent"]);
  assert.ok(entries.some(([d, s]) => d === "sent" && s === "sim.dashboard.command"));
  assert.ok(entries.some(([d, s]) => d === "received" && s.startsWith("_INBOX.")), "the reply came to the request's inbox");
});

test("deep dive: the table comes by link, downloads with fetch and decodes without copying", async (t) => {
  await page.click("#table-load");
  assert.equal(await panelSettled(page, "table", 240_000), "done", await text(page, "#table-error"));
  assert.equal(Number(await text(page, "#table-rows")), TABLE_ROWS);
  assert.equal(await text(page, "#table-zero-copy"), "yes");
  assert.equal(await text(page, "#table-transport"), "link");
  const mb = Number(await text(page, "#table-mb"));
  const mbps = Number(await text(page, "#table-mbps"));
  const seconds = Number(await text(page, "#table-seconds"));
  assert.ok(mb > 10, `${mb} MB`);
  assert.ok(mbps > 0 && Number.isFinite(mbps), `${mbps} MB/s`);
  assert.ok(seconds > 0, `${seconds} s`);
  const inked = await page.$eval("#table-chart", (c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  assert.ok(inked > 500, `the chart is drawn (${inked} pixels)`);
  t.diagnostic(`table: ${TABLE_ROWS} rows, ${mb} MB, ${mbps} MB/s (download+verify+decode ${seconds} s, download ${await text(page, "#table-download-seconds")} s, service ${await text(page, "#table-service-seconds")} s)`);
});

test("audio: a request without Sample-Rate is refused and the error is shown", async () => {
  const r = await page.evaluate(async () => {
    const pcm = new Uint8Array(9600);
    try {
      return await window.__dashboard.sendAudio(pcm, { Channels: "1", "Bits-Per-Sample": "16" });
    } catch (e) {
      return { thrown: String(e) };
    }
  });
  assert.equal(r.ok, false, JSON.stringify(r));
  assert.match(r.error, /Sample-Rate/i);
  assert.equal(await page.$eval("#panel-audio", (e) => e.dataset.state), "error");
  assert.match(await text(page, "#audio-status"), /^error: /);
  assert.match(await text(page, "#audio-error"), /Sample-Rate/i);
});

test(`audio: two seconds of the fake microphone (${TONE_HZ} Hz) peak at ${TONE_HZ} Hz`, async (t) => {
  await page.click("#audio-record");
  assert.equal(await panelSettled(page, "audio", 30_000), "done", await text(page, "#audio-error"));
  const peak = Number(await text(page, "#audio-peak-hz"));
  const rate = Number(await text(page, "#audio-sample-rate"));
  assert.ok(Math.abs(peak - TONE_HZ) <= 15, `peak ${peak} Hz`);
  assert.ok(rate >= 8000, `sample rate ${rate}`);
  assert.equal(Number(await text(page, "#audio-samples")), 2 * rate, "2 s at the context's rate");
  t.diagnostic(`audio: peak ${peak} Hz for a ${TONE_HZ} Hz tone at ${rate} Hz`);
});

test("catch-up: the replay is exactly the window, then the feed is followed live", async (t) => {
  // First visit, 3 s window.
  const first = await page.evaluate(() => window.__dashboard.health.replayed.then((s) => JSON.parse(JSON.stringify(s))));
  assert.ok(first.replayed >= 5 && first.replayed <= 20, `3 s at ${INTERVAL_MS} ms: ${first.replayed} replayed`);
  await page.waitForFunction(() => window.__dashboard.health.state.live >= 3, { timeout: 10_000 });
  assert.equal(await panelSettled(page, "health", 1000), "done", await text(page, "#health-error"));

  // Screenshots of the first visit: every panel done.
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const name of ["command", "table", "audio", "health"]) {
    await (await page.$(`#panel-${name}`)).screenshot({ path: join(ARTIFACTS, `panel-${name}.png`) });
  }
  const full = join(ARTIFACTS, "dashboard.png");
  await page.screenshot({ path: full, fullPage: true });
  if (process.env.UPDATE_SCREENSHOT === "1") copyFileSync(full, join(REPO_ROOT, "docs/dashboard.png"));

  await collectStrip(page);
  const seen = await healthState(page);
  const lastSeen = Math.max(...seen.replayedStreamSeqs, ...seen.liveStreamSeqs);
  await page.close();
  const closedAt = Date.now();

  // Closed for two seconds while the service keeps publishing; reopen with a wider window.
  await new Promise((r) => setTimeout(r, 2000));
  const second = await openPage(`?window=${REOPEN_WINDOW_S}`);
  page = second.page;
  errors = second.errors;
  const s = await page.evaluate(() => window.__dashboard.health.replayed.then((x) => JSON.parse(JSON.stringify(x))));
  assert.equal(s.windowSecs, REOPEN_WINDOW_S);
  assert.equal(s.errors.length, 0, s.errors.join("\n"));

  // Contiguous: no gap, no duplicate; ends at the stream's last message when the page opened.
  assert.ok(s.replayed > 0);
  assert.equal(s.replayedStreamSeqs.length, s.replayed);
  for (let i = 1; i < s.replayedStreamSeqs.length; i++) {
    assert.equal(s.replayedStreamSeqs[i], s.replayedStreamSeqs[i - 1] + 1, `stream seqs contiguous at ${i}`);
    assert.equal(s.replayedHealthSeqs[i], s.replayedHealthSeqs[i - 1] + 1, `health seqs contiguous at ${i}`);
  }
  assert.equal(s.replayedStreamSeqs.at(-1), s.lastSeqAtOpen, "the replay ends at the last message stored when the page opened");
  // It covers what was published while the page was closed, and reaches back before the close.
  assert.ok(s.lastSeqAtOpen >= lastSeen + Math.floor(2000 / INTERVAL_MS / 2), `published while closed: ${lastSeen} → ${s.lastSeqAtOpen}`);
  assert.ok(s.replayedStreamSeqs[0] <= lastSeen, "the window reaches back before the page was closed");
  const expected = (REOPEN_WINDOW_S * 1000) / INTERVAL_MS;
  // A loaded machine may publish late (fewer in the window); exactness is checked below.
  assert.ok(s.replayed >= expected * 0.6 && s.replayed <= expected + 4, `${s.replayed} replayed, ~${expected} expected for ${REOPEN_WINDOW_S} s at ${INTERVAL_MS} ms`);

  // The same window through the Node runtime's pull consumer, and the server's timestamps at its edge.
  const nc = service.ready.nats_url ? await connect({ servers: service.ready.nats_url }) : await wsconnect({ servers: service.ready.nats_ws_url });
  try {
    const windowStart = new Date(s.windowStart);
    const consumer = await EnvelopeConsumer.create(nc, "DASHBOARD_HEALTH", {
      start: windowStart,
      filterSubject: "dashboard.health.metrics",
      receive: { allowedHosts: [service.ready.fileserver_url] },
    });
    const nodeSeqs = [];
    let nodeLinks = 0;
    let oldestTime;
    for (;;) {
      const d = await consumer.next(10_000);
      await d.ack();
      if (d.seq > s.lastSeqAtOpen) break;
      nodeSeqs.push(d.seq);
      if (d.received.payloads.some((p) => p.transport === "link")) nodeLinks++;
      oldestTime ??= d.received.payloads.find((p) => p.dataname === "health").data.time;
      if (d.seq === s.lastSeqAtOpen) break;
    }
    await consumer.close();
    assert.deepEqual(s.replayedStreamSeqs, nodeSeqs, "the page replayed exactly what the Node runtime replays for the same window");
    assert.equal(s.links, nodeLinks);
    assert.ok(s.links > 0, "a snapshot (every 10th message) fell in the window and came by link");
    assert.equal(await text(page, "#health-replayed"), String(s.replayed));
    assert.equal(await text(page, "#health-links"), String(s.links));
    assert.equal(await text(page, "#health-oldest"), oldestTime);
    const jsm = await jetstreamManager(nc);
    const firstMsg = await jsm.streams.getMessage("DASHBOARD_HEALTH", { seq: s.replayedStreamSeqs[0] });
    assert.ok(firstMsg.time.getTime() >= windowStart.getTime(), "the first replayed message is inside the window");
    if (s.replayedStreamSeqs[0] > 1) {
      const before = await jsm.streams.getMessage("DASHBOARD_HEALTH", { seq: s.replayedStreamSeqs[0] - 1 });
      assert.ok(before.time.getTime() < windowStart.getTime(), "the message before it is outside the window");
    }
  } finally {
    await nc.close();
  }

  // The service's own log: every replayed stream sequence was published, snapshots where links came.
  const published = new Map();
  for (const line of readFileSync(service.ready.log_file, "utf8").split("\n")) {
    if (!line.includes("health published")) continue;
    const f = JSON.parse(line).fields ?? JSON.parse(line);
    published.set(Number(f.stream_sequence), f);
  }
  const fromLog = s.replayedStreamSeqs.map((q) => published.get(q));
  assert.ok(fromLog.every((f) => f !== undefined), "every replayed message is in the service's log");
  assert.equal(fromLog.filter((f) => f.snapshot === true).length, s.links, "links where the service published snapshots");

  // Live after the replay.
  await page.waitForFunction(() => window.__dashboard.health.state.live >= 3, { timeout: 10_000 });
  assert.ok(Number(await text(page, "#health-live")) >= 3);
  await (await page.$("#panel-health")).screenshot({ path: join(ARTIFACTS, "panel-health-reopened.png") });
  t.diagnostic(`catch-up: closed ${((Date.now() - closedAt) / 1000).toFixed(1)} s; ${s.replayed} replayed (${s.links} links) from ${s.windowStart}, seqs ${s.replayedStreamSeqs[0]}..${s.lastSeqAtOpen}; replay ${s.replaySeconds.toFixed(3)} s`);
});

test("every correlation id in the log strips is in the service's JSON log", async () => {
  await collectStrip(page);
  assert.ok(stripIds.size > 10, `${stripIds.size} ids`);
  const logText = readFileSync(service.ready.log_file, "utf8");
  const ids = new Set();
  for (const line of logText.split("\n")) {
    if (line.trim() === "") continue;
    for (const m of line.matchAll(/"correlation_id":"([0-9a-f-]{36})"/g)) ids.add(m[1]);
  }
  const missing = [...stripIds].filter((id) => !ids.has(id));
  assert.deepEqual(missing, [], "ids shown in the page but absent from the service's log");
});

test("no console errors, no uncaught exceptions, no failed requests", async () => {
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(pageErrors.flat(), []);
  assert.ok(Array.isArray(errors));
});
