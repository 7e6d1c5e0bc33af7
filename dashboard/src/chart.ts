/**
 * Charts on a `<canvas>` without a chart library: a min/max envelope per pixel column (for
 * millions of points) and plain polylines (spectrum, health series), with axes labelled by
 * their extremes. Drawing is sized for the device pixel ratio.
 */

export interface Series {
  label: string;
  color: string;
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
}

export interface Marker {
  x: number;
  label: string;
  color: string;
}

interface Frame {
  ctx: CanvasRenderingContext2D;
  left: number;
  top: number;
  width: number;
  height: number;
}

const FONT = '11px system-ui, "DejaVu Sans", sans-serif';
const PAD = { left: 56, right: 12, top: 18, bottom: 24 };

function frame(canvas: HTMLCanvasElement): Frame {
  const ratio = window.devicePixelRatio || 1;
  const cssWidth = canvas.clientWidth || canvas.width;
  const cssHeight = canvas.clientHeight || canvas.height;
  canvas.width = Math.round(cssWidth * ratio);
  canvas.height = Math.round(cssHeight * ratio);
  const ctx = canvas.getContext("2d");
  if (ctx === null) throw new Error("no 2d canvas context");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cssWidth, cssHeight);
  ctx.font = FONT;
  return { ctx, left: PAD.left, top: PAD.top, width: cssWidth - PAD.left - PAD.right, height: cssHeight - PAD.top - PAD.bottom };
}

function short(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toString();
}

function axes(f: Frame, xMin: string, xMax: string, yMin: number, yMax: number, caption: string): void {
  const { ctx, left, top, width, height } = f;
  ctx.strokeStyle = "#c7cdd8";
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(left, top);
  ctx.lineTo(left, top + height);
  ctx.lineTo(left + width, top + height);
  ctx.stroke();
  ctx.fillStyle = "#6b7385";
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  ctx.fillText(short(yMax), left - 4, top);
  ctx.fillText(short(yMin), left - 4, top + height);
  ctx.textBaseline = "top";
  ctx.textAlign = "left";
  ctx.fillText(xMin, left, top + height + 5);
  ctx.textAlign = "right";
  ctx.fillText(xMax, left + width, top + height + 5);
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";
  ctx.fillText(caption, left, top - 5);
}

function range(values: ArrayLike<number>, from = 0, to = values.length): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = from; i < to; i++) {
    const v = values[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo)) return [0, 1];
  if (lo === hi) return [lo - 1, hi + 1];
  return [lo, hi];
}

/** Per-bucket minimum and maximum of `values` (NaN skipped), `buckets` buckets of equal width. */
export function minMaxBuckets(chunks: readonly ArrayLike<number>[], total: number, buckets: number): { mins: Float64Array; maxs: Float64Array } {
  const n = Math.max(1, Math.min(buckets, total));
  const mins = new Float64Array(n).fill(Infinity);
  const maxs = new Float64Array(n).fill(-Infinity);
  const per = total / n;
  let i = 0;
  for (const chunk of chunks) {
    const len = chunk.length;
    for (let j = 0; j < len; j++, i++) {
      const v = chunk[j]!;
      if (v !== v) continue;
      const b = Math.min(n - 1, Math.floor(i / per));
      if (v < mins[b]!) mins[b] = v;
      if (v > maxs[b]!) maxs[b] = v;
    }
  }
  return { mins, maxs };
}

/** A min/max envelope: bucket i spans rows [i·total/n, (i+1)·total/n). */
export function drawEnvelope(canvas: HTMLCanvasElement, mins: Float64Array, maxs: Float64Array, total: number, caption: string): void {
  const f = frame(canvas);
  const [lo] = range(mins);
  const [, hi] = range(maxs);
  axes(f, "row 0", `row ${total}`, lo, hi, caption);
  const { ctx, left, top, width, height } = f;
  const y = (v: number) => top + height - ((v - lo) / (hi - lo)) * height;
  const n = mins.length;
  ctx.strokeStyle = "#2563eb";
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(mins[i]!)) continue;
    const x = left + ((i + 0.5) / n) * width;
    ctx.moveTo(x, y(maxs[i]!));
    ctx.lineTo(x, y(mins[i]!) + 0.5);
  }
  ctx.stroke();
}

/** Polylines over a shared x axis; each series scaled to its own y range when `ownScale`. */
export function drawLines(
  canvas: HTMLCanvasElement,
  series: readonly Series[],
  options: { caption: string; xLabel: (x: number) => string; xMin?: number; xMax?: number; ownScale?: boolean; markers?: readonly Marker[] },
): void {
  const f = frame(canvas);
  const { ctx, left, top, width, height } = f;
  const allX = series.flatMap((s) => (s.xs.length > 0 ? [s.xs[0]!, s.xs[s.xs.length - 1]!] : []));
  const xMin = options.xMin ?? (allX.length > 0 ? Math.min(...allX) : 0);
  const xMax = options.xMax ?? (allX.length > 0 ? Math.max(...allX) : 1);
  const xSpan = xMax > xMin ? xMax - xMin : 1;
  const ranges = series.map((s) => range(s.ys));
  const shared: [number, number] = [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
  const first = options.ownScale === true ? (ranges[0] ?? [0, 1]) : shared;
  axes(f, options.xLabel(xMin), options.xLabel(xMax), first[0], first[1], options.caption);
  const x = (v: number) => left + ((v - xMin) / xSpan) * width;
  for (const [k, s] of series.entries()) {
    const [lo, hi] = options.ownScale === true ? ranges[k]! : shared;
    const y = (v: number) => top + height - ((v - lo) / (hi - lo)) * height;
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.25;
    ctx.beginPath();
    let started = false;
    for (let i = 0; i < s.xs.length; i++) {
      const xv = s.xs[i]!;
      if (xv < xMin || xv > xMax) continue;
      const px = x(xv);
      const py = y(s.ys[i]!);
      if (started) ctx.lineTo(px, py);
      else ctx.moveTo(px, py);
      started = true;
    }
    ctx.stroke();
    // legend, one line per series in the plot's top right corner
    ctx.fillStyle = s.color;
    const legend = options.ownScale === true ? `${s.label} (${short(lo)}–${short(hi)})` : s.label;
    ctx.textAlign = "right";
    ctx.fillText(legend, left + width - 2, top + 12 + 13 * k);
    ctx.textAlign = "left";
  }
  for (const m of options.markers ?? []) {
    if (m.x < xMin || m.x > xMax) continue;
    const px = x(m.x);
    ctx.strokeStyle = m.color;
    ctx.fillStyle = m.color;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, top + height);
    ctx.stroke();
    ctx.setLineDash([]);
    if (m.label !== "") ctx.fillText(m.label, Math.min(px + 4, left + width - 60), top + 12);
  }
}
