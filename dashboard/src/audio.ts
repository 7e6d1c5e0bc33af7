/**
 * Panel 3, audio: two seconds from the microphone (raw: no echo cancellation, noise
 * suppression or gain control), captured by an AudioWorklet as float samples, sent as 16-bit
 * little-endian mono PCM (`audio`) with `Sample-Rate`, `Channels` and `Bits-Per-Sample` in the
 * NATS headers; or a WAV file the person picks (the seeds' 5 MB clip), sent whole as `audio`
 * with the same three headers read from its `fmt ` chunk. The format's one rule: the headers
 * carry it; the service checks a WAV file against them and refuses a mismatch. A file above
 * the size threshold goes by link: the runtime uploads it from the page to the file server
 * (CORS) and only the URL travels. The service answers `result` (peak_hz, …) and `spectrum`
 * (an Arrow table, frequency_hz and magnitude), or one `error` dictionary, which is shown.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { type Received } from "@natsbridge/client/browser";
import type { Table } from "apache-arrow";
import { request, type DashboardConfig } from "./bridge.js";
import { drawLines } from "./chart.js";
import { byId, describe, fixed, setState, setText, showError } from "./ui.js";

export const RECORD_SECONDS = 2;

// Runs on the audio thread: hands each 128-frame block of the first input channel to the page.
const WORKLET = `
class PcmCapture extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("pcm-capture", PcmCapture);
`;

export interface Recording {
  pcm: Uint8Array;
  sampleRate: number;
  samples: number;
}

/** Records `seconds` of mono audio from the default microphone at the AudioContext's rate. */
export async function record(seconds: number): Promise<Recording> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
    video: false,
  });
  const ctx = new AudioContext();
  const moduleUrl = URL.createObjectURL(new Blob([WORKLET], { type: "text/javascript" }));
  try {
    await ctx.audioWorklet.addModule(moduleUrl);
    await ctx.resume();
    const wanted = Math.round(seconds * ctx.sampleRate);
    const samples = new Float32Array(wanted);
    let filled = 0;
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, "pcm-capture", { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1, channelCountMode: "explicit" });
    const mute = ctx.createGain();
    mute.gain.value = 0;
    await new Promise<void>((resolve) => {
      node.port.onmessage = (ev: MessageEvent<Float32Array>) => {
        if (filled >= wanted) return;
        const block = ev.data.subarray(0, wanted - filled);
        samples.set(block, filled);
        filled += block.length;
        if (filled >= wanted) resolve();
      };
      source.connect(node);
      node.connect(mute); // keeps the node pulled by the graph, silently
      mute.connect(ctx.destination);
    });
    source.disconnect();
    node.disconnect();
    node.port.onmessage = null;
    // Float [-1, 1] → 16-bit signed little endian.
    const pcm = new Uint8Array(wanted * 2);
    const view = new DataView(pcm.buffer);
    for (let i = 0; i < wanted; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]!));
      view.setInt16(i * 2, Math.round(s < 0 ? s * 0x8000 : s * 0x7fff), true);
    }
    return { pcm, sampleRate: ctx.sampleRate, samples: wanted };
  } finally {
    for (const t of stream.getTracks()) t.stop();
    URL.revokeObjectURL(moduleUrl);
    await ctx.close();
  }
}

/** What a WAV file's `fmt ` chunk says. */
export interface WavFormat {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
}

/** The `fmt ` chunk of a RIFF/WAVE file; throws when it is not a 16-bit PCM WAV file. */
export function wavFormat(bytes: Uint8Array): WavFormat {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));
  if (bytes.byteLength < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a WAV file (no RIFF/WAVE header)");
  for (let at = 12; at + 8 <= bytes.byteLength; ) {
    const len = view.getUint32(at + 4, true);
    if (tag(at) === "fmt ") {
      if (at + 8 + 16 > bytes.byteLength) throw new Error("the WAV file's `fmt ` chunk is cut short");
      const format = view.getUint16(at + 8, true);
      const bitsPerSample = view.getUint16(at + 22, true);
      if (format !== 1 || bitsPerSample !== 16) throw new Error(`the WAV file is not 16-bit PCM (format tag ${format}, ${bitsPerSample} bits per sample)`);
      return { channels: view.getUint16(at + 10, true), sampleRate: view.getUint32(at + 12, true), bitsPerSample };
    }
    at += 8 + len + (len & 1);
  }
  throw new Error("the WAV file has no `fmt ` chunk");
}

export interface AudioResult {
  ok: boolean;
  /** `microphone`, or the file's name. */
  source: string;
  /** How the page sent it (`direct` or `link`), as its envelope says. */
  transport: string;
  /** How the service says it arrived. */
  receivedBy?: string;
  /** Bytes of the audio payload. */
  bytes: number;
  /** smartsend: serialize (+ upload, for a link) + publish, ms. */
  sendMs: number;
  peakHz?: number;
  sampleRate?: number;
  samples?: number;
  error?: string;
  rttMs: number;
  correlationId: string;
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function floatColumn(table: Table, name: string): Float64Array {
  const col = table.getChild(name);
  if (col === null) throw new Error(`the spectrum has no column \`${name}\``);
  const out = new Float64Array(col.length);
  let i = 0;
  for (const d of col.data) {
    const v = d.values as unknown;
    if (!(v instanceof Float64Array)) throw new Error(`spectrum column \`${name}\` is not float64`);
    out.set(v.subarray(d.offset, d.offset + d.length), i);
    i += d.length;
  }
  return out;
}

interface Sending {
  source: string;
  transport: string;
  bytes: number;
  sendMs: number;
}

function showReply(received: Received, rttMs: number, sending: Sending): AudioResult {
  const correlationId = received.envelope.correlation_id;
  setText("audio-rtt-ms", fixed(rttMs, 1));
  const error = asObject(received.payload("error")?.data);
  if (error !== undefined) {
    const message = String(error["error"] ?? JSON.stringify(error));
    for (const id of ["audio-peak-hz", "audio-sample-rate", "audio-samples"]) setText(id, "–");
    setText("audio-status", `error: ${message}`);
    showError("audio", `the service refused the recording: ${message}`);
    setState("audio", "error");
    return { ok: false, error: message, rttMs, correlationId, ...sending };
  }
  const result = asObject(received.payload("result")?.data);
  if (result === undefined) throw new Error(`the reply has neither \`result\` nor \`error\`: ${received.envelope.payloads.map((p) => p.dataname).join(", ")}`);
  const peakHz = Number(result["peak_hz"]);
  const sampleRate = Number(result["sample_rate"]);
  const samples = Number(result["samples"]);
  setText("audio-peak-hz", fixed(peakHz, 1));
  setText("audio-sample-rate", sampleRate);
  setText("audio-samples", samples);
  const receivedBy = typeof result["received_by"] === "string" ? result["received_by"] : undefined;
  const arrived = receivedBy !== undefined ? ` (it arrived ${receivedBy})` : "";
  setText("audio-status", `analysed ${fixed(Number(result["seconds"]), 2)} s, ${String(result["channels"] ?? "?")} channel${arrived}`);
  const spectrum = received.payload("spectrum");
  if (spectrum !== undefined && spectrum.payload_type === "arrowtable") {
    const freq = floatColumn(spectrum.data, "frequency_hz");
    const mag = floatColumn(spectrum.data, "magnitude");
    const nyquist = freq.length > 0 ? freq[freq.length - 1]! : sampleRate / 2;
    const xMax = Math.min(nyquist, Math.max(2000, peakHz * 4));
    drawLines(byId<HTMLCanvasElement>("audio-chart"), [{ label: "magnitude", color: "#7c3aed", xs: freq, ys: mag }], {
      caption: `spectrum, 0–${Math.round(xMax)} Hz`,
      xLabel: (x) => `${Math.round(x)} Hz`,
      xMin: 0,
      xMax,
      markers: [{ x: peakHz, label: `peak ${fixed(peakHz, 1)} Hz`, color: "#dc2626" }],
    });
  }
  setState("audio", "done");
  return { ok: true, peakHz, sampleRate, samples, rttMs, correlationId, ...sending, ...(receivedBy === undefined ? {} : { receivedBy }) };
}

/**
 * Sends audio bytes (PCM, or a whole WAV file) with the given headers and shows the answer
 * (also used by tests for a bad request). `source` names it in the panel.
 */
export async function sendAudio(
  nc: NatsConnection,
  config: DashboardConfig,
  pcm: Uint8Array,
  headers: Record<string, string>,
  source = "microphone",
): Promise<AudioResult> {
  setState("audio", "busy");
  showError("audio", undefined);
  setText("audio-source", source);
  setText("audio-bytes", pcm.byteLength);
  for (const id of FIGURES) if (id !== "audio-bytes") setText(id, "…");
  setText("audio-status", `sending and analysing ${pcm.byteLength} bytes…`);
  try {
    const r = await request(nc, config, config.subjects.audio, [[source === "microphone" ? "recording" : "clip", pcm, "audio"]], {
      scenario: "audio",
      msgPurpose: "command",
      headers,
      timeoutMs: 120_000,
    });
    const sent = r.sent.envelope.payloads[0];
    const sending: Sending = { source, transport: sent?.transport ?? "?", bytes: sent?.size ?? pcm.byteLength, sendMs: r.tSent - r.t0 };
    setText("audio-transport", sending.transport);
    setText("audio-send-ms", fixed(sending.sendMs, 1));
    return showReply(r.received, r.tDecoded - r.t0, sending);
  } catch (e) {
    setText("audio-status", "failed");
    showError("audio", describe(e));
    setState("audio", "error");
    throw e;
  }
}

const FIGURES = ["audio-peak-hz", "audio-sample-rate", "audio-samples", "audio-rtt-ms", "audio-transport", "audio-bytes", "audio-send-ms"];

/**
 * Sends the WAV file chosen in `#audio-file` whole, with `Sample-Rate`, `Channels` and
 * `Bits-Per-Sample` from its `fmt ` chunk (a file that is not 16-bit PCM is refused here,
 * before anything is sent).
 */
export async function runAudioFile(nc: NatsConnection, config: DashboardConfig): Promise<AudioResult> {
  const button = byId<HTMLButtonElement>("audio-send-file");
  const file = byId<HTMLInputElement>("audio-file").files?.[0];
  button.disabled = true;
  setState("audio", "busy");
  showError("audio", undefined);
  for (const id of FIGURES) setText(id, "…");
  try {
    let bytes: Uint8Array;
    let format: WavFormat;
    try {
      if (file === undefined) throw new Error("choose a WAV file first");
      setText("audio-status", `reading ${file.name}…`);
      bytes = new Uint8Array(await file.arrayBuffer());
      format = wavFormat(bytes);
    } catch (e) {
      setText("audio-status", "no file sent");
      showError("audio", describe(e));
      setState("audio", "error");
      throw e;
    }
    const headers = { "Sample-Rate": String(format.sampleRate), Channels: String(format.channels), "Bits-Per-Sample": String(format.bitsPerSample) };
    return await sendAudio(nc, config, bytes, headers, file.name);
  } finally {
    button.disabled = false;
  }
}

export async function runAudio(nc: NatsConnection, config: DashboardConfig): Promise<AudioResult> {
  const button = byId<HTMLButtonElement>("audio-record");
  button.disabled = true;
  setState("audio", "busy");
  showError("audio", undefined);
  for (const id of FIGURES) setText(id, "…");
  try {
    setText("audio-status", `recording ${RECORD_SECONDS} s…`);
    let rec: Recording;
    try {
      rec = await record(RECORD_SECONDS);
    } catch (e) {
      setText("audio-status", "no microphone");
      showError("audio", describe(e));
      setState("audio", "error");
      throw e;
    }
    return await sendAudio(nc, config, rec.pcm, { "Sample-Rate": String(rec.sampleRate), Channels: "1", "Bits-Per-Sample": "16" });
  } finally {
    button.disabled = false;
  }
}
