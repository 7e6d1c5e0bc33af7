/**
 * Panel 4, catch-up: the service publishes a `health` dictionary into the JetStream stream
 * every interval, every 10th envelope with a `snapshot` big enough to go by link. On open,
 * the page notes the stream's last sequence L and replays everything stored since
 * now − window through the runtime's pull consumer (`EnvelopeConsumer`, start time, ack after
 * decode); messages up to L are the replay, later ones are followed live.
 *
 * The window is one of stream time (when JetStream stored each message): that is what a
 * consumer that was away can ask for without reading, and downloading the links of, what lies
 * before it. The service publishes ten minutes of history at start-up (`"backfill": true`,
 * their `time`s spread over the window before it); they are stored inside the window, so the
 * replay gets every one, and the panel shows how many and the oldest health `time`.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { EnvelopeConsumer, NatsBridgeError, type Delivered } from "@natsbridge/client/browser";
import type { DashboardConfig } from "./bridge.js";
import { drawLines, type Marker } from "./chart.js";
import { logEnvelope, payloadSummary } from "./log.js";
import { byId, describe, fixed, setState, setText, showError } from "./ui.js";

export interface HealthPoint {
  t: number;
  cpu: number;
  memory: number;
  queue: number;
  link: boolean;
}

export interface HealthState {
  windowSecs: number;
  /** Start of the replay (now − window at open), ISO. */
  windowStart: string;
  /** The stream's last sequence when the page opened: messages up to it are the replay. */
  lastSeqAtOpen: number;
  replayDone: boolean;
  replayed: number;
  links: number;
  /** Replayed messages the service published at start-up (`"backfill": true`), times in the past. */
  backfilled: number;
  oldest: string | undefined;
  replaySeconds: number;
  live: number;
  liveLinks: number;
  /** Stream sequences and health `seq`s of the replayed messages, in delivery order. */
  replayedStreamSeqs: number[];
  replayedHealthSeqs: number[];
  liveStreamSeqs: number[];
  liveHealthSeqs: number[];
  errors: string[];
}

const MAX_POINTS = 6000;

export interface HealthFeed {
  state: HealthState;
  /** Resolves when the replay is over (live following goes on). */
  replayed: Promise<HealthState>;
  stop(): Promise<void>;
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function startHealth(nc: NatsConnection, config: DashboardConfig): HealthFeed {
  const windowSecs = config.health_window_secs;
  const state: HealthState = {
    windowSecs,
    windowStart: "",
    lastSeqAtOpen: 0,
    replayDone: false,
    replayed: 0,
    links: 0,
    backfilled: 0,
    oldest: undefined,
    replaySeconds: 0,
    live: 0,
    liveLinks: 0,
    replayedStreamSeqs: [],
    replayedHealthSeqs: [],
    liveStreamSeqs: [],
    liveHealthSeqs: [],
    errors: [],
  };
  const points: HealthPoint[] = [];
  let stopped = false;
  let consumer: EnvelopeConsumer | undefined;
  let resolveReplayed!: (s: HealthState) => void;
  let rejectReplayed!: (e: unknown) => void;
  const replayed = new Promise<HealthState>((res, rej) => {
    resolveReplayed = res;
    rejectReplayed = rej;
  });
  replayed.catch(() => {}); // shown in the panel; not an unhandled rejection
  const panel = byId("panel-health");
  setText("health-window", windowSecs);

  let drawPending = false;
  const draw = () => {
    if (drawPending) return;
    drawPending = true;
    setTimeout(() => {
      drawPending = false;
      const xs = points.map((p) => p.t);
      const markers: Marker[] = points.filter((p) => p.link).map((p) => ({ x: p.t, label: "", color: "#cbd5e1" }));
      drawLines(
        byId<HTMLCanvasElement>("health-chart"),
        [
          { label: "cpu %", color: "#2563eb", xs, ys: points.map((p) => p.cpu) },
          { label: "memory MB", color: "#16a34a", xs, ys: points.map((p) => p.memory) },
          { label: "queue depth", color: "#d97706", xs, ys: points.map((p) => p.queue) },
        ],
        { caption: "health (each series on its own scale; dashed: snapshot by link)", xLabel: (x) => new Date(x).toISOString().slice(11, 19), ownScale: true, markers },
      );
    }, 200);
  };

  const figures = () => {
    setText("health-replayed", state.replayed);
    setText("health-links", state.links);
    setText("health-backfilled", state.backfilled);
    setText("health-oldest", state.oldest ?? "–");
    setText("health-live", state.live);
  };

  const finishReplay = (t0: number) => {
    if (state.replayDone) return;
    state.replayDone = true;
    state.replaySeconds = (performance.now() - t0) / 1000;
    setText("health-replay-seconds", fixed(state.replaySeconds, 3));
    panel.dataset["replayDone"] = "true";
    figures();
    setState("health", state.errors.length > 0 ? "error" : "done");
    resolveReplayed(state);
  };

  const handle = (d: Delivered, replay: boolean) => {
    const env = d.received.envelope;
    const health = asObject(d.received.payload("health")?.data);
    const link = d.received.payloads.some((p) => p.transport === "link");
    const hseq = Number(health?.["seq"]);
    const time = typeof health?.["time"] === "string" ? health["time"] : d.timestamp.toISOString();
    if (replay) {
      state.replayed++;
      if (link) state.links++;
      if (health?.["backfill"] === true) state.backfilled++;
      state.replayedStreamSeqs.push(d.seq);
      state.replayedHealthSeqs.push(hseq);
      if (state.oldest === undefined || Date.parse(time) < Date.parse(state.oldest)) state.oldest = time;
    } else {
      state.live++;
      if (link) state.liveLinks++;
      state.liveStreamSeqs.push(d.seq);
      state.liveHealthSeqs.push(hseq);
    }
    logEnvelope({ direction: "received", subject: env.send_to, correlationId: env.correlation_id, scenario: "health", detail: `${replay ? "replay" : "live"} #${d.seq} ${payloadSummary(env)}` });
    points.push({
      t: Date.parse(time),
      cpu: Number(health?.["cpu_percent"]),
      memory: Number(health?.["memory_mb"]),
      queue: Number(health?.["queue_depth"]),
      link,
    });
    if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
    figures();
    draw();
  };

  const run = async () => {
    setState("health", "busy");
    const jsm = await jetstreamManager(nc);
    let lastSeq: number | undefined;
    for (let attempt = 0; lastSeq === undefined; attempt++) {
      try {
        lastSeq = (await jsm.streams.info(config.health_stream)).state.last_seq;
      } catch (e) {
        if (attempt >= 60 || stopped) throw e;
        setText("health-replayed", "waiting for the stream…");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    const start = new Date(Date.now() - windowSecs * 1000);
    state.lastSeqAtOpen = lastSeq;
    state.windowStart = start.toISOString();
    panel.dataset["windowStart"] = state.windowStart;
    panel.dataset["lastSeq"] = String(lastSeq);
    const t0 = performance.now();
    consumer = await EnvelopeConsumer.create(nc, config.health_stream, {
      start: start,
      filterSubject: config.subjects.health,
      batch: 64,
      receive: { allowedHosts: [config.fileserver_url] },
    });
    figures();
    if (lastSeq === 0) finishReplay(t0);
    while (!stopped) {
      let d: Delivered;
      try {
        d = await consumer.next(state.replayDone ? 30_000 : 5_000);
      } catch (e) {
        if (stopped || nc.isClosed()) break;
        if (e instanceof NatsBridgeError && e.code === "TIMEOUT") {
          // Nothing at all within the window and nothing new: the replay was empty.
          finishReplay(t0);
          continue;
        }
        state.errors.push(describe(e));
        showError("health", state.errors.slice(-3).join("\n"));
        if (e instanceof NatsBridgeError && e.code === "NATS_CONNECTION_FAILED") await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      if (!state.replayDone && d.seq > lastSeq) finishReplay(t0);
      handle(d, !state.replayDone);
      d.ack().catch((e: unknown) => state.errors.push(describe(e)));
      if (!state.replayDone && d.seq >= lastSeq) finishReplay(t0);
    }
  };

  run().catch((e: unknown) => {
    if (stopped) return;
    state.errors.push(describe(e));
    showError("health", describe(e));
    setState("health", "error");
    rejectReplayed(e);
  });

  return {
    state,
    replayed,
    stop: async () => {
      stopped = true;
      await consumer?.close();
    },
  };
}
