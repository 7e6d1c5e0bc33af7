/**
 * Panel 2, deep dive: asks for `{"rows": N}`; the service answers with `results`, an Arrow
 * table by link. `smartreceive` downloads it with `fetch` into one buffer, verifies it and
 * decodes it with `tableFromIPC` over that buffer. The panel proves the columns were not
 * copied (every column's typed array has the downloaded ArrayBuffer as its `.buffer`), shows
 * the rows, the size, the MB/s of download + verify + decode, and draws column `value`.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { Table } from "apache-arrow";
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
  downloadSeconds: number;
  serviceSeconds: number;
  zeroCopy: boolean;
  columnsChecked: number;
  transport: string;
  correlationId: string;
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
  for (const id of ["table-rows", "table-mb", "table-mbps", "table-seconds", "table-download-seconds", "table-service-seconds", "table-zero-copy", "table-transport"]) setText(id, "…");
  const rows = config.table_rows;
  setText("table-requested", `asking for ${rows} rows…`);
  // Observe (not replace) the runtime's download: when it starts and when the body has been read.
  const timing = { start: 0, end: 0 };
  const timedFetch: typeof fetch = async (input, init) => {
    timing.start = performance.now();
    const resp = await fetch(input, init);
    if (resp.body === null || !resp.ok) return resp;
    const body = resp.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        flush() {
          timing.end = performance.now();
        },
      }),
    );
    return new Response(body, { status: resp.status, statusText: resp.statusText, headers: resp.headers });
  };
  try {
    const r = await request(nc, config, config.subjects.table, [["request", { rows }, "dictionary"]], {
      scenario: "table",
      msgPurpose: "command",
      timeoutMs: 300_000,
      receive: { fetch: { fetch: timedFetch, deadlineMs: 300_000 } },
    });
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
    const seconds = (r.tDecoded - r.tArrived) / 1000;
    const downloadSeconds = timing.end > 0 ? (timing.end - timing.start) / 1000 : NaN;
    const serviceSeconds = (r.tArrived - r.t0) / 1000;
    const bytes = p.bytes.byteLength;
    const mb = bytes / 1e6;
    const mbps = mb / seconds;
    setText("table-rows", table.numRows);
    setText("table-mb", fixed(mb, 1));
    setText("table-mbps", fixed(mbps, 1));
    setText("table-seconds", fixed(seconds, 3));
    setText("table-download-seconds", Number.isNaN(downloadSeconds) ? "–" : fixed(downloadSeconds, 3));
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
