/**
 * Panel 1, command & control, on the example team spec's command channel
 * (examples/simulation/asyncapi.yaml, `sendCommand`): `[["command", {step_size, iterations},
 * "dictionary"]]` with msg_purpose "command", sent direct; the service (generated Rust
 * operations) answers `status` (`{state: "Running", detail}`) through reply_to. Shows the
 * state and the round trip (send → reply decoded).
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { request, type DashboardConfig } from "./bridge.js";
import { byId, describe, fixed, setState, setText, showError } from "./ui.js";

export interface CommandResult {
  status: string;
  rttMs: number;
  correlationId: string;
}

export async function runCommand(nc: NatsConnection, config: DashboardConfig): Promise<CommandResult> {
  const stepSize = Number(byId<HTMLInputElement>("cmd-step").value);
  const iterations = Number(byId<HTMLInputElement>("cmd-iterations").value);
  const button = byId<HTMLButtonElement>("cmd-start");
  button.disabled = true;
  setState("command", "busy");
  showError("command", undefined);
  setText("cmd-status", "sending…");
  try {
    if (!Number.isFinite(stepSize) || stepSize <= 0) throw new Error("step_size must be a positive number");
    if (!Number.isSafeInteger(iterations) || iterations < 1) throw new Error("iterations must be a positive integer");
    const r = await request(nc, config, config.subjects.command, [["command", { step_size: stepSize, iterations }, "dictionary"]], {
      scenario: "command",
      msgPurpose: "command",
      timeoutMs: 10_000,
    });
    const rttMs = r.tDecoded - r.t0;
    const reply = r.received.payload("status");
    const data = reply?.payload_type === "dictionary" ? reply.data : undefined;
    const status = typeof data === "object" && data !== null && !Array.isArray(data) ? data["state"] : undefined;
    setText("cmd-transport", r.sent.envelope.payloads.map((p) => p.transport).join(", "));
    setText("cmd-cid", r.received.envelope.correlation_id);
    setText("cmd-rtt-ms", fixed(rttMs, 1));
    if (typeof status !== "string") {
      const err = r.received.payload("error")?.data;
      throw new Error(`the reply has no status: ${JSON.stringify(err ?? r.received.envelope.payloads.map((p) => p.dataname))}`);
    }
    setText("cmd-status", status);
    setState("command", "done");
    return { status, rttMs, correlationId: r.received.envelope.correlation_id };
  } catch (e) {
    setText("cmd-status", "failed");
    showError("command", describe(e));
    setState("command", "error");
    throw e;
  } finally {
    button.disabled = false;
  }
}
