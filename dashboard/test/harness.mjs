// What the browser tests and scripts/demo.mjs share: finding Chromium (never skipped: a missing
// one fails with the install command), the fake microphone's WAV, launching Chromium with the
// fake media flags, starting `natsbridge-demo dashboard` and reading its ready line, and
// collecting console errors of a page.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import puppeteer from "puppeteer-core";

export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_ROOT = join(DASHBOARD_DIR, "..");
export const ARTIFACTS = join(DASHBOARD_DIR, "test-artifacts");

/** Chromium: `$CHROMIUM_BIN`, else `command -v chromium`; throws (never skips) when missing. */
export function chromiumBin() {
  const fromEnv = process.env.CHROMIUM_BIN;
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_BIN=${fromEnv} does not exist; install it: apt-get install -y chromium`);
    return fromEnv;
  }
  let found = "";
  try {
    found = execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  } catch {
    found = "";
  }
  if (found === "") throw new Error("Chromium not found (neither $CHROMIUM_BIN nor `chromium` on PATH); install it: apt-get install -y chromium");
  return found;
}

/** The demo binary: `$NATSBRIDGE_DEMO_BIN`, else target/debug/natsbridge-demo; throws with the build command when missing. */
export function demoBin(fallback = join(REPO_ROOT, "target/debug/natsbridge-demo")) {
  const bin = process.env.NATSBRIDGE_DEMO_BIN || fallback;
  if (!existsSync(bin)) throw new Error(`${bin} is missing; build it: cargo build -p natsbridge-demo (or set NATSBRIDGE_DEMO_BIN)`);
  return bin;
}

/** The bytes of a 16-bit mono PCM WAV of a sine (`samples` of them, else `seconds`' worth). */
export function toneWav({ hz = 880, seconds = 3, sampleRate = 44_100, amplitude = 0.5, samples } = {}) {
  const n = samples ?? Math.round(seconds * sampleRate);
  const buf = Buffer.alloc(44 + n * 2);
  buf.write("RIFF", 0, "ascii");
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write("WAVE", 8, "ascii");
  buf.write("fmt ", 12, "ascii");
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write("data", 36, "ascii");
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) buf.writeInt16LE(Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * hz * i) / sampleRate)), 44 + i * 2);
  return buf;
}

/** A 16-bit mono PCM WAV of a sine written to `path` (the fake microphone's input, or a file to send). */
export function writeToneWav(path, options = {}) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, toneWav(options));
  return path;
}

/**
 * The seeds' scenario-3 clip: 5 000 000 bytes of 16-bit mono PCM at 44.1 kHz (2 500 000
 * samples, 56.7 s) of a `hz` sine, as a WAV file: above the 500 000-byte threshold, so the page
 * sends it by link.
 */
export const CLIP_SAMPLES = 2_500_000;

/**
 * Headless Chromium with a fake microphone playing `wav`. `spki`: the base64 SHA-256 of the
 * one server certificate to trust although no CA in the trust store signed it (the dashboard's
 * `wss://` listener with `--ws-tls`); only that certificate, never every one.
 */
export async function launchChromium(wav, { width = 1400, height = 1000, spki } = {}) {
  return puppeteer.launch({
    executablePath: chromiumBin(),
    headless: true,
    defaultViewport: { width, height },
    args: [
      "--no-sandbox",
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      `--use-file-for-fake-audio-capture=${wav}`,
      "--autoplay-policy=no-user-gesture-required",
      "--enable-precise-memory-info",
      // Chromium honours the pin only with a profile directory of its own, which puppeteer gives it.
      ...(spki === undefined ? [] : [`--ignore-certificate-errors-spki-list=${spki}`]),
    ],
  });
}

/**
 * Starts `natsbridge-demo dashboard ARGS` and resolves with its ready line
 * (`{dashboard, nats_ws_url, fileserver_url, log_file, ws_tls, ws_auth, …}`) and a `stop()`.
 */
export async function startDashboard(bin, args, { timeoutMs = 120_000 } = {}) {
  const child = spawn(bin, ["dashboard", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const ready = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`natsbridge-demo dashboard printed no ready line within ${timeoutMs} ms; stderr:\n${stderr.slice(-4000)}`)), timeoutMs);
    child.stdout.on("data", (d) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(out.slice(0, nl)));
        } catch (e) {
          reject(new Error(`not a JSON ready line: ${out.slice(0, nl)} (${e})`));
        }
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`natsbridge-demo dashboard exited (${code ?? signal}) before its ready line; stderr:\n${stderr.slice(-4000)}`));
    });
  });
  for (const k of ["dashboard", "nats_ws_url", "fileserver_url", "log_file"]) {
    if (typeof ready[k] !== "string") throw new Error(`the ready line has no \`${k}\`: ${JSON.stringify(ready)}`);
  }
  const exited = new Promise((r) => child.once("exit", r));
  return {
    ready,
    child,
    stderr: () => stderr,
    stop: async () => {
      // SIGINT (Ctrl-C) is what the service shuts down on, stopping its nats-server with it;
      // SIGTERM, then SIGKILL, only if it does not exit.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGINT");
        const term = setTimeout(() => child.kill("SIGTERM"), 10_000);
        const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(term);
        clearTimeout(kill);
      }
    },
  };
}

/** Collects console errors and uncaught page errors (and failed requests) of `page`. */
export function collectErrors(page) {
  const errors = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console.error: ${m.text()} ${JSON.stringify(m.location())}`);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e?.message ?? e}`));
  page.on("requestfailed", (r) => {
    // A pending pull cut by closing the page is not an error of the page.
    const why = r.failure()?.errorText ?? "";
    if (why !== "net::ERR_ABORTED") errors.push(`requestfailed: ${r.url()} ${why}`);
  });
  return errors;
}

/** Text of a figure (trimmed). */
export async function text(page, selector) {
  return page.$eval(selector, (e) => (e.textContent ?? "").trim());
}

/** Waits until panel `name` leaves `busy`/`idle` for `done` or `error`; returns the state. */
export async function panelSettled(page, name, timeoutMs) {
  await page.waitForFunction(
    (sel) => ["done", "error"].includes(document.querySelector(sel)?.getAttribute("data-state") ?? ""),
    { timeout: timeoutMs, polling: 100 },
    `#panel-${name}`,
  );
  return page.$eval(`#panel-${name}`, (e) => e.getAttribute("data-state"));
}

/**
 * Peak and current RSS (VmHWM / VmRSS from Linux /proc, bytes) of the browser's renderer
 * processes, found with CDP `SystemInfo.getProcessInfo`.
 */
export async function rendererMemory(browser) {
  const session = await browser.target().createCDPSession();
  try {
    const { processInfo } = await session.send("SystemInfo.getProcessInfo");
    const out = [];
    for (const p of processInfo) {
      if (p.type !== "renderer") continue;
      try {
        const status = readFileSync(`/proc/${p.id}/status`, "utf8");
        const hwm = status.match(/VmHWM:\s+(\d+) kB/);
        const rss = status.match(/VmRSS:\s+(\d+) kB/);
        out.push({ pid: p.id, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : NaN, rssBytes: rss ? Number(rss[1]) * 1024 : NaN });
      } catch {
        // gone, or not Linux
      }
    }
    return out;
  } finally {
    await session.detach().catch(() => {});
  }
}

/**
 * The renderer's peak RSS during the page's table transfer (download + verify + decode). The
 * page awaits `window.__tablePhase("receive")` just before it and `("received")` after it
 * (src/table.ts); at "receive" this notes every renderer's RSS (VmRSS) and resets its peak
 * (`5` into /proc/PID/clear_refs resets VmHWM), at "received" it reads VmHWM. `result()` gives
 * the renderer whose peak rose most: `{pid, beforeBytes, peakBytes, riseBytes}` (the rise is
 * the peak above the RSS just before), or undefined when the page never called the probe.
 * Linux only (procfs); install it before the page's table load.
 */
export async function tableMemoryProbe(browser, page) {
  const status = (pid) => readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (text, key) => Number(text.match(new RegExp(`${key}:\\s+(\\d+) kB`))?.[1] ?? NaN) * 1024;
  let before = new Map();
  let peaks;
  await page.exposeFunction("__tablePhase", async (phase) => {
    if (phase === "receive") {
      before = new Map();
      peaks = undefined;
      for (const { pid } of await rendererMemory(browser)) {
        try {
          before.set(pid, kb(status(pid), "VmRSS"));
          writeFileSync(`/proc/${pid}/clear_refs`, "5");
        } catch {
          before.delete(pid);
        }
      }
    } else if (phase === "received") {
      peaks = new Map();
      for (const pid of before.keys()) {
        try {
          peaks.set(pid, kb(status(pid), "VmHWM"));
        } catch {
          // gone
        }
      }
    }
  });
  return {
    result() {
      if (peaks === undefined) return undefined;
      let best;
      for (const [pid, peakBytes] of peaks) {
        const beforeBytes = before.get(pid);
        const riseBytes = peakBytes - beforeBytes;
        if (best === undefined || riseBytes > best.riseBytes) best = { pid, beforeBytes, peakBytes, riseBytes };
      }
      return best;
    },
  };
}
