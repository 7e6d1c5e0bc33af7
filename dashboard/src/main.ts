/**
 * The NATSBridge dashboard: reads `/config.json` from the server that serves this page
 * (`natsbridge-demo dashboard`), connects to its NATS WebSocket listener and wires the four
 * panels. `window.__dashboard` gives tests and scripts the same calls the buttons make.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { runAudio, runAudioFile, sendAudio, type AudioResult } from "./audio.js";
import { connect, loadConfig, type DashboardConfig } from "./bridge.js";
import { runCommand, type CommandResult } from "./command.js";
import { startHealth, type HealthFeed } from "./health.js";
import { loggedEntries, type LogEntry } from "./log.js";
import { prepareTable, runTable, type TableResult } from "./table.js";
import { byId, describe } from "./ui.js";

export interface Dashboard {
  /** Resolves once the configuration is read and NATS is connected. */
  ready: Promise<void>;
  config?: DashboardConfig;
  nc?: NatsConnection;
  health?: HealthFeed;
  command(): Promise<CommandResult>;
  table(): Promise<TableResult>;
  audio(): Promise<AudioResult>;
  /** Sends the WAV file chosen in `#audio-file` (what "Send WAV file" does). */
  audioFile(): Promise<AudioResult>;
  /** Sends PCM with these headers through the audio panel (a test sends a bad request with it). */
  sendAudio(pcm: Uint8Array, headers: Record<string, string>): Promise<AudioResult>;
  log(): readonly LogEntry[];
}

declare global {
  interface Window {
    __dashboard: Dashboard;
  }
}

function started(): Promise<{ config: DashboardConfig; nc: NatsConnection }> {
  return new Promise((resolve, reject) => {
    dashboard.ready.then(() => resolve({ config: dashboard.config!, nc: dashboard.nc! }), reject);
  });
}

const dashboard: Dashboard = {
  ready: Promise.resolve(),
  command: async () => {
    const { nc, config } = await started();
    return runCommand(nc, config);
  },
  table: async () => {
    const { nc, config } = await started();
    return runTable(nc, config);
  },
  audio: async () => {
    const { nc, config } = await started();
    return runAudio(nc, config);
  },
  audioFile: async () => {
    const { nc, config } = await started();
    return runAudioFile(nc, config);
  },
  sendAudio: async (pcm, headers) => {
    const { nc, config } = await started();
    return sendAudio(nc, config, pcm, headers);
  },
  log: loggedEntries,
};
window.__dashboard = dashboard;

async function boot(): Promise<void> {
  const conn = byId("conn");
  const config = await loadConfig(window.location);
  dashboard.config = config;
  conn.textContent = `connecting to ${config.nats_ws_url}…`;
  const nc = await connect(config);
  dashboard.nc = nc;
  const info = nc.info;
  conn.dataset["state"] = "done";
  conn.textContent = `NATS ${config.nats_ws_url} (server ${info?.version ?? "?"}) · files ${config.fileserver_url} · table ${config.table_rows} rows · window ${config.health_window_secs} s`;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnecting") {
        conn.dataset["state"] = "error";
        conn.textContent = `NATS: ${s.type}…`;
      } else if (s.type === "reconnect") {
        conn.dataset["state"] = "done";
        conn.textContent = `NATS ${config.nats_ws_url}: reconnected`;
      }
    }
  })();

  // Buttons: a failure is shown in its panel (the promise is not left unhandled).
  const wire = (id: string, run: () => Promise<unknown>) => {
    const b = byId<HTMLButtonElement>(id);
    b.disabled = false;
    b.addEventListener("click", () => {
      run().catch(() => {});
    });
  };
  wire("cmd-start", () => runCommand(nc, config));
  prepareTable();
  wire("table-load", () => runTable(nc, config));
  wire("audio-record", () => runAudio(nc, config));
  wire("audio-send-file", () => runAudioFile(nc, config));

  const feed = byId<HTMLInputElement>("log-feed");
  feed.addEventListener("change", () => byId("log").classList.toggle("hide-feed", !feed.checked));

  dashboard.health = startHealth(nc, config);
  window.addEventListener("pagehide", () => {
    void dashboard.health?.stop();
  });
}

dashboard.ready = boot().catch((e: unknown) => {
  const conn = document.getElementById("conn");
  if (conn !== null) {
    conn.dataset["state"] = "error";
    conn.textContent = `cannot start: ${describe(e)}`;
  }
  throw e;
});
