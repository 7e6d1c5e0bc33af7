/**
 * Panel 2, deep dive: asks for `{"rows": N}`; the service answers with `results`, an Arrow
 * table by link. `smartreceive` downloads it with `fetch` into one buffer of the declared size
 * (BYOB reads, each copied from a 1 MiB piece into place), verifies its SHA-256 while the bytes
 * stream in (hash-wasm's SHA-256 over the buffer behind the reads, while a read waits for the
 * network: the body is taken as fast as it arrives, so Chromium holds none of it back; no
 * second copy, no hash over the whole buffer afterwards) and decodes it with `tableFromIPC`
 * over that buffer. The panel proves the
 * columns were not copied (every column's typed array has the downloaded ArrayBuffer as its
 * `.buffer`), shows the rows, the size, the MB/s of download + verify + decode against the
 * same link downloaded alone (the same runtime download into a buffer of the same size, no
 * hash, no decode, right after, then released) and the hash alone over the same bytes (the
 * bound: verifying cannot run faster than hashing), and draws column `value`.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { fetchWithBackoff, type FetchOptions, type Sha256Stream } from "@natsbridge/client/browser";
import type { Table } from "apache-arrow";
import { createSHA256, type IHasher } from "hash-wasm";
import { request, type DashboardConfig } from "./bridge.js";
import { drawEnvelope, minMaxBuckets } from "./chart.js";
import { byId, describe, fixed, setState, setText, showError } from "./ui.js";

export interface TableResult {
  rows: number;
  bytes: number;
  mb: number;
  mbps: number;
  /** Download + verify + decode. */
  seconds: number;
  /** The same link downloaded alone (no hash, no decode), right after; NaN when it could not be. */
  downloadSeconds: number;
  downloadMbps: number;
  /** `mbps / downloadMbps`: what verifying and decoding leave of the download's rate. */
  rateRatio: number;
  /** The streaming SHA-256 over the downloaded bytes in memory, alone: the bound of verifying while downloading. */
  hashSeconds: number;
  hashMbps: number;
  verify: VerifyMode;
  serviceSeconds: number;
  zeroCopy: boolean;
  columnsChecked: number;
  transport: string;
  correlationId: string;
}

const VERIFY_TEXT: Record<VerifyMode, string> = {
  main: "streaming SHA-256 (hash-wasm), BYOB reads",
  worker: "streaming SHA-256 in a worker (hash-wasm), BYOB reads",
  webcrypto: "WebCrypto digest after the download (copies the buffer)",
};

/** The panel's figures (ids), reset to "…" while a load runs. */
const FIGURES = [
  "table-rows", "table-mb", "table-mbps", "table-seconds", "table-download-seconds", "table-download-mbps",
  "table-rate-ratio", "table-hash-mbps", "table-verify", "table-service-seconds", "table-zero-copy", "table-transport",
];

/** The pieces the worker hashes: at most one BYOB read each (the runtime reads 1 MiB at a time). */
const PIECE = 1 << 20;
/** Pieces in flight to the worker: how far the download may run ahead of the hash (16 MiB). */
const PIECES = 16;

/**
 * hash-wasm's SHA-256 in a worker (src/hash-worker.ts), fed by copying each chunk into one of
 * {@link PIECES} reusable 1 MiB buffers that travel to the worker and back (transferred, never
 * copied again): the page reads on while the worker hashes, and waits only when all of them are
 * out. One hash at a time: the panel runs one load at a time (its button is disabled while busy).
 */
class WorkerSha256 {
  private readonly worker: Worker;
  private readonly free: ArrayBuffer[] = [];
  private waiting: (() => void)[] = [];
  private digested: { resolve: (hex: string) => void; reject: (e: Error) => void } | undefined;
  private failed: Error | undefined;

  constructor() {
    this.worker = new Worker(new URL("./hash-worker.js", import.meta.url), { type: "module", name: "sha256" });
    for (let i = 0; i < PIECES; i++) this.free.push(new ArrayBuffer(PIECE));
    this.worker.onmessage = (e: MessageEvent) => {
      const m = e.data as { op: "free"; buf: ArrayBuffer } | { op: "digest"; hex: string } | { op: "error"; message: string };
      if (m.op === "free") {
        this.free.push(m.buf);
        this.waiting.shift()?.();
      } else if (m.op === "digest") {
        this.digested?.resolve(m.hex);
        this.digested = undefined;
      } else this.fail(new Error(`the SHA-256 worker failed: ${m.message}`));
    };
    this.worker.onerror = (e) => this.fail(new Error(`the SHA-256 worker failed: ${e.message}`));
  }

  private fail(e: Error): void {
    this.failed = e;
    this.digested?.reject(e);
    this.digested = undefined;
    for (const w of this.waiting.splice(0)) w();
  }

  /** A fresh hash (what the runtime's `sha256Stream` option makes per attempt). */
  begin(): Sha256Stream {
    if (this.failed !== undefined) throw this.failed;
    this.worker.postMessage({ op: "init" });
    return {
      update: (chunk: Uint8Array) => this.update(chunk),
      digest: () => this.digest(),
    };
  }

  /** Copies `chunk` out (the runtime reads into its buffer again) and sends it; a promise only when every piece is out. */
  private update(chunk: Uint8Array): Promise<void> | undefined {
    let offset = 0;
    while (offset < chunk.byteLength && this.free.length > 0) offset = this.send(chunk, offset);
    if (offset === chunk.byteLength) return undefined;
    const rest = chunk.slice(offset);
    return (async () => {
      let at = 0;
      while (at < rest.byteLength) {
        if (this.failed !== undefined) throw this.failed;
        if (this.free.length === 0) await new Promise<void>((r) => this.waiting.push(r));
        else at = this.send(rest, at);
      }
    })();
  }

  private send(chunk: Uint8Array, offset: number): number {
    const buf = this.free.pop()!;
    const n = Math.min(buf.byteLength, chunk.byteLength - offset);
    new Uint8Array(buf, 0, n).set(chunk.subarray(offset, offset + n));
    this.worker.postMessage({ op: "update", buf, len: n }, [buf]);
    return offset + n;
  }

  private digest(): Promise<string> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.digested = { resolve, reject };
      this.worker.postMessage({ op: "digest" });
    });
  }
}

let workerHash: WorkerSha256 | undefined;
let mainHash: Promise<IHasher> | undefined;

/** The worker's hash (`?verify=worker`), started at page start (it warms up there): `prepareTable`. */
function sha256Worker(): WorkerSha256 {
  workerHash ??= new WorkerSha256();
  return workerHash;
}

/**
 * hash-wasm's SHA-256 on the page's own thread, made and warmed up once (V8 compiles
 * WebAssembly lazily and optimizes hot code later: the first MiB takes ~10x longer). One
 * instance, reset per download: the panel runs one load at a time.
 */
function sha256Main(): Promise<IHasher> {
  mainHash ??= (async () => {
    const h = await createSHA256();
    const block = new Uint8Array(1 << 20);
    h.init();
    for (let n = 0; n < 8 << 20; n += block.byteLength) h.update(block);
    h.digest();
    return h;
  })();
  return mainHash;
}

/** Makes the streaming hash ready before the first load (page start). */
export function prepareTable(): void {
  if (verifyMode(window.location) === "worker") sha256Worker();
  else void sha256Main().catch(() => (mainHash = undefined));
}

/**
 * How the table's download is verified (`?verify=`): `main` (the default: the streaming
 * SHA-256 on the page's thread, fed each chunk between reads), `worker` (the same hash in a
 * worker, the page reading on meanwhile: it wins only with a core to spare, and lost on the
 * busy 2-core machine it was measured on), `webcrypto` (the runtime's default:
 * `crypto.subtle.digest` over the whole buffer once downloaded, which copies it). The last two
 * are there to compare in one session.
 */
export type VerifyMode = "main" | "worker" | "webcrypto";

export function verifyMode(location: Location): VerifyMode {
  const v = new URLSearchParams(location.search).get("verify");
  return v === "worker" || v === "webcrypto" ? v : "main";
}

/** The runtime's download options for the table (BYOB reads into the presized buffer, hashed behind them, but for `webcrypto`). */
async function tableFetch(mode: VerifyMode): Promise<FetchOptions> {
  if (mode === "webcrypto") return { deadlineMs: 300_000 };
  if (mode === "main") {
    const h = await sha256Main();
    return { deadlineMs: 300_000, sha256Stream: () => h.init(), byob: true };
  }
  const w = sha256Worker();
  return { deadlineMs: 300_000, sha256Stream: () => w.begin(), byob: true };
}

/**
 * A harness's probe (puppeteer's `page.exposeFunction("__tablePhase", …)`), awaited at the
 * edges of the timed download + verify + decode: `"receive"` when the reply has arrived, just
 * before it starts, `"received"` once the table is decoded (the download alone comes after).
 * The dashboard test and scripts/demo.mjs read the renderer's peak RSS between the two.
 */
async function phase(name: "receive" | "received"): Promise<void> {
  const probe = (window as { __tablePhase?: (phase: string) => Promise<void> }).__tablePhase;
  if (typeof probe === "function") await probe(name);
}

/**
 * Downloads `url` alone, as the runtime does (`fetchWithBackoff`: one buffer of `size`, BYOB
 * reads) without hashing or decoding; returns the seconds and releases the buffer at once
 * (`ArrayBuffer.prototype.transfer(0)` frees it without waiting for a GC). It runs after the
 * timed download + verify + decode, so that one's memory is measured in a tab that has not
 * downloaded the table before.
 */
async function downloadAlone(url: string, size: number, mode: VerifyMode): Promise<number> {
  const t = performance.now();
  const bytes = await fetchWithBackoff(url, { expectedSize: size, byob: mode !== "webcrypto", deadlineMs: 300_000 });
  const seconds = (performance.now() - t) / 1000;
  (bytes.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
  return seconds;
}

/**
 * Seconds the streaming SHA-256 (the mode's: the worker's, else the page's) takes over `bytes`
 * in memory, in the 1 MiB pieces a download feeds it, checked against `sha256`: the bound of
 * download + verify (a download cannot be verified faster than its bytes can be hashed).
 */
async function hashAlone(bytes: Uint8Array, sha256: string, mode: VerifyMode): Promise<number> {
  const t = performance.now();
  let digest: string;
  if (mode === "worker") {
    const h = sha256Worker().begin();
    for (let i = 0; i < bytes.byteLength; i += PIECE) await h.update(bytes.subarray(i, i + PIECE));
    digest = await h.digest();
  } else {
    const h = await sha256Main();
    h.init();
    for (let i = 0; i < bytes.byteLength; i += PIECE) h.update(bytes.subarray(i, i + PIECE));
    digest = h.digest();
  }
  const seconds = (performance.now() - t) / 1000;
  if (digest !== sha256) throw new Error(`hashing the table again gave ${digest}, the download ${sha256}`);
  return seconds;
}

/** Every column buffer of `table` (values, offsets) that is a view into `buffer`, and how many were checked. */
export function columnsShare(table: Table, buffer: ArrayBufferLike): { shared: boolean; checked: number } {
  let checked = 0;
  let shared = true;
  for (const field of table.schema.fields) {
    const column = table.getChild(field.name);
    if (column === null) continue;
    for (const data of column.data) {
      for (const view of [data.values as unknown, data.valueOffsets as unknown]) {
        if (!ArrayBuffer.isView(view) || view.byteLength === 0) continue;
        checked++;
        if (view.buffer !== buffer) shared = false;
      }
    }
  }
  return { shared: shared && checked > 0, checked };
}

/** The chunks of a numeric column as typed-array views (no copy). */
function numericChunks(table: Table, name: string): ArrayLike<number>[] {
  const column = table.getChild(name);
  if (column === null) throw new Error(`the table has no column \`${name}\``);
  return column.data.map((d) => {
    const values = d.values as unknown;
    if (!(values instanceof Float64Array)) throw new Error(`column \`${name}\` is not float64`);
    return values.subarray(d.offset, d.offset + d.length);
  });
}

export async function runTable(nc: NatsConnection, config: DashboardConfig): Promise<TableResult> {
  const button = byId<HTMLButtonElement>("table-load");
  button.disabled = true;
  setState("table", "busy");
  showError("table", undefined);
  for (const id of FIGURES) setText(id, "…");
  const rows = config.table_rows;
  const mode = verifyMode(window.location);
  setText("table-requested", `asking for ${rows} rows…`);
  try {
    const r = await request(nc, config, config.subjects.table, [["request", { rows }, "dictionary"]], {
      scenario: "table",
      msgPurpose: "command",
      timeoutMs: 300_000,
      receive: { fetch: await tableFetch(mode) },
      beforeReceive: () => phase("receive"),
    });
    await phase("received");
    const p = r.received.payload("results");
    if (p === undefined || p.payload_type !== "arrowtable") {
      const err = r.received.payload("error")?.data;
      throw new Error(`the reply has no \`results\` table: ${JSON.stringify(err ?? r.received.envelope.payloads.map((x) => x.dataname))}`);
    }
    const table = p.data;
    const downloaded = p.bytes.buffer;
    const whole = p.bytes.byteOffset === 0 && downloaded.byteLength === p.bytes.byteLength;
    const share = columnsShare(table, downloaded);
    const zeroCopy = p.transport === "link" && whole && share.shared;
    const seconds = (r.tDecoded - r.tReceiving) / 1000;
    const serviceSeconds = (r.tArrived - r.t0) / 1000;
    const bytes = p.bytes.byteLength;
    const mb = bytes / 1e6;
    const mbps = mb / seconds;
    // The comparisons, after the timed receive (its memory is that of a tab that had not
    // downloaded the table before): the same link downloaded alone, the bytes hashed alone.
    const link = r.received.envelope.payloads.find((x) => x.dataname === "results");
    const downloadSeconds = p.transport === "link" && link !== undefined ? await downloadAlone(link.data, link.size, mode) : NaN;
    const hashSeconds = await hashAlone(p.bytes, p.sha256, mode);
    const downloadMbps = mb / downloadSeconds;
    const hashMbps = mb / hashSeconds;
    const rateRatio = mbps / downloadMbps;
    setText("table-rows", table.numRows);
    setText("table-mb", fixed(mb, 1));
    setText("table-mbps", fixed(mbps, 1));
    setText("table-seconds", fixed(seconds, 3));
    setText("table-download-seconds", Number.isNaN(downloadSeconds) ? "–" : fixed(downloadSeconds, 3));
    setText("table-download-mbps", Number.isNaN(downloadMbps) ? "–" : fixed(downloadMbps, 1));
    setText("table-rate-ratio", Number.isNaN(rateRatio) ? "–" : fixed(rateRatio, 2));
    setText("table-hash-mbps", fixed(hashMbps, 1));
    setText("table-verify", VERIFY_TEXT[mode]);
    setText("table-service-seconds", fixed(serviceSeconds, 3));
    setText("table-zero-copy", zeroCopy ? "yes" : "no");
    setText("table-transport", p.transport);
    setText("table-requested", `${rows} rows asked for; columns ${table.schema.fields.map((f) => f.name).join(", ")}`);
    const canvas = byId<HTMLCanvasElement>("table-chart");
    const { mins, maxs } = minMaxBuckets(numericChunks(table, "value"), table.numRows, Math.max(100, Math.round(canvas.clientWidth - 68)));
    drawEnvelope(canvas, mins, maxs, table.numRows, "value (min/max per pixel column)");
    setState("table", zeroCopy ? "done" : "error");
    if (!zeroCopy) showError("table", `the columns were copied (${share.checked} buffers checked, transport ${p.transport})`);
    return {
      rows: table.numRows,
      bytes,
      mb,
      mbps,
      seconds,
      downloadSeconds,
      downloadMbps,
      rateRatio,
      hashSeconds,
      hashMbps,
      verify: mode,
      serviceSeconds,
      zeroCopy,
      columnsChecked: share.checked,
      transport: p.transport,
      correlationId: r.received.envelope.correlation_id,
    };
  } catch (e) {
    showError("table", describe(e));
    setState("table", "error");
    throw e;
  } finally {
    button.disabled = false;
  }
}
