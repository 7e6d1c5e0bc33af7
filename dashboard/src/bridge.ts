/**
 * The page's side of the contract with `natsbridge-demo dashboard`: `/config.json`, the
 * WebSocket connection, and request/reply as `smartsend` with `reply_to` + a subscription on
 * a fresh inbox (the runtime's `smartrequest` does the same; done by hand here so each phase
 * can be timed: the service's work until the reply arrives, then download + verify + decode).
 * Every envelope sent or received goes to the log strip.
 */
import { createInbox, wsconnect, type Msg, type NatsConnection } from "@nats-io/nats-core";
import {
  NatsBridgeError,
  newUuid,
  smartreceive,
  smartsend,
  type MsgPurpose,
  type PayloadTuple,
  type ReceiveOptions,
  type Received,
  type Sent,
} from "@natsbridge/client/browser";
import { logEnvelope, payloadSummary } from "./log.js";

export interface DashboardConfig {
  nats_ws_url: string;
  /** The WebSocket listener's credential, when it asks for one: a token, or a user and password. */
  nats_token?: string;
  nats_user?: string;
  nats_password?: string;
  fileserver_url: string;
  table_rows: number;
  health_window_secs: number;
  health_stream: string;
  subjects: { command: string; table: string; audio: string; health: string };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Reads `/config.json`; `?window=SECS` overrides the health window, `?rows=N` the table rows asked for. */
export async function loadConfig(location: Location): Promise<DashboardConfig> {
  const resp = await fetch(new URL("config.json", location.href), { cache: "no-store" });
  if (!resp.ok) throw new Error(`GET config.json answered HTTP ${resp.status}`);
  const raw: unknown = await resp.json();
  if (!isRecord(raw) || !isRecord(raw["subjects"])) throw new Error("config.json is not the dashboard's configuration");
  const s = raw["subjects"];
  const str = (o: Record<string, unknown>, k: string): string => {
    const v = o[k];
    if (typeof v !== "string" || v === "") throw new Error(`config.json: \`${k}\` is missing`);
    return v;
  };
  const num = (k: string, dflt: number): number => {
    const v = raw[k];
    return typeof v === "number" && Number.isFinite(v) ? v : dflt;
  };
  const config: DashboardConfig = {
    nats_ws_url: str(raw, "nats_ws_url"),
    fileserver_url: str(raw, "fileserver_url"),
    table_rows: num("table_rows", 10_000_000),
    health_window_secs: num("health_window_secs", 600),
    health_stream: typeof raw["health_stream"] === "string" ? raw["health_stream"] : "DASHBOARD_HEALTH",
    subjects: { command: str(s, "command"), table: str(s, "table"), audio: str(s, "audio"), health: str(s, "health") },
  };
  const token = raw["nats_token"];
  if (token !== undefined) config.nats_token = str(raw, "nats_token");
  if (raw["nats_user"] !== undefined || raw["nats_password"] !== undefined) {
    config.nats_user = str(raw, "nats_user");
    config.nats_password = str(raw, "nats_password");
  }
  if (config.nats_token !== undefined && config.nats_user !== undefined) throw new Error("config.json: give `nats_token` or `nats_user` + `nats_password`, not both");
  const q = new URLSearchParams(location.search);
  const w = Number(q.get("window"));
  if (q.has("window") && Number.isFinite(w) && w > 0) config.health_window_secs = w;
  const rows = Number(q.get("rows"));
  if (q.has("rows") && Number.isSafeInteger(rows) && rows > 0) config.table_rows = Math.min(rows, config.table_rows);
  return config;
}

export async function connect(config: DashboardConfig): Promise<NatsConnection> {
  // A URL without a scheme would mean wss:// to nats.js; the service writes the scheme
  // (ws://, or wss:// with --ws-tls: the browser checks the certificate as for any page).
  // The credential goes in nats.js's options, never in the URL (which is shown and logged).
  return wsconnect({
    servers: config.nats_ws_url,
    name: "natsbridge-dashboard",
    maxReconnectAttempts: -1,
    ...(config.nats_token === undefined ? {} : { token: config.nats_token }),
    ...(config.nats_user === undefined ? {} : { user: config.nats_user, pass: config.nats_password ?? "" }),
  });
}

export interface Timed {
  sent: Sent;
  received: Received;
  /** performance.now() before smartsend. */
  t0: number;
  /** When smartsend was done (serialized, uploaded when by link, published). */
  tSent: number;
  /** When the reply message arrived. */
  tArrived: number;
  /** When smartreceive started (after `beforeReceive`). */
  tReceiving: number;
  /** When smartreceive was done (downloads, verification and decoding included). */
  tDecoded: number;
}

export interface RequestOptions {
  scenario: string;
  /** A v1 value (writers are strict: anything else is refused before it is sent). */
  msgPurpose: MsgPurpose;
  headers?: Record<string, string>;
  timeoutMs: number;
  receive?: ReceiveOptions;
  /** Runs when the reply has arrived, before smartreceive and outside its timing (the table panel's memory probe). */
  beforeReceive?: (reply: Msg) => Promise<void>;
}

/** Sends `payloads` with a fresh inbox in `reply_to` and waits for the reply envelope, decoded. */
export async function request(
  nc: NatsConnection,
  config: DashboardConfig,
  subject: string,
  payloads: readonly PayloadTuple[],
  options: RequestOptions,
): Promise<Timed> {
  const correlationId = newUuid();
  const inbox = createInbox();
  const sub = nc.subscribe(inbox, { max: 1 });
  const first = (async (): Promise<Msg | undefined> => {
    for await (const m of sub) return m;
    return undefined;
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const t0 = performance.now();
    const sent = await smartsend(subject, payloads, {
      connection: nc,
      correlationId,
      replyTo: inbox,
      msgPurpose: options.msgPurpose,
      senderName: "natsbridge-dashboard",
      fileserverUrl: config.fileserver_url,
      ...(options.headers === undefined ? {} : { headers: options.headers }),
    });
    const tSent = performance.now();
    logEnvelope({ direction: "sent", subject, correlationId, scenario: options.scenario, detail: `${sent.envelope.msg_purpose} ${payloadSummary(sent.envelope)}` });
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), options.timeoutMs);
    });
    const m = await Promise.race([first, timeout]);
    if (m === "timeout") throw new NatsBridgeError("TIMEOUT", `no reply on \`${subject}\` within ${options.timeoutMs} ms`, { correlationId });
    if (m === undefined) throw new NatsBridgeError("NATS_CONNECTION_FAILED", "the reply subscription closed", { correlationId });
    const tArrived = performance.now();
    await options.beforeReceive?.(m);
    const tReceiving = performance.now();
    const received = await smartreceive(m, { allowedHosts: [config.fileserver_url], ...options.receive });
    const tDecoded = performance.now();
    const env = received.envelope;
    logEnvelope({ direction: "received", subject: m.subject, correlationId: env.correlation_id, scenario: options.scenario, detail: `${env.msg_purpose} ${payloadSummary(env)}` });
    if (env.correlation_id !== correlationId) {
      throw new NatsBridgeError("INVALID_ENVELOPE", `the reply's correlation_id ${env.correlation_id} is not the request's`, { correlationId });
    }
    if (env.reply_to_msg_id !== sent.envelope.msg_id) {
      throw new NatsBridgeError("INVALID_ENVELOPE", `the reply's reply_to_msg_id ${env.reply_to_msg_id} is not the request's msg_id`, { correlationId });
    }
    return { sent, received, t0, tSent, tArrived, tReceiving, tDecoded };
  } finally {
    clearTimeout(timer);
    sub.unsubscribe();
  }
}
