/**
 * The log strip: one `<li>` per envelope sent or received, newest first, carrying the
 * correlation id, the direction and the subject as data attributes (tests read them) and as
 * text (people read them). Request/reply entries are kept; the health feed's entries are
 * trimmed to the newest ones so a dashboard left open does not grow without bound.
 */
import type { MsgEnvelopeV1 } from "@natsbridge/client/browser";
import { byId } from "./ui.js";

export type Direction = "sent" | "received";

export interface LogEntry {
  direction: Direction;
  subject: string;
  correlationId: string;
  /** Which panel it belongs to ("command", "table", "audio", "health"). */
  scenario: string;
  detail: string;
}

const MAX_FEED_ENTRIES = 2000;
const entries: LogEntry[] = [];
let feedEntries = 0;

/** Every entry ever logged (also those trimmed from the DOM), for tests. */
export function loggedEntries(): readonly LogEntry[] {
  return entries;
}

/** `name:type:transport` of each payload, e.g. `results:arrowtable:link`. */
export function payloadSummary(envelope: MsgEnvelopeV1): string {
  return envelope.payloads.map((p) => `${p.dataname}:${p.payload_type}:${p.transport}`).join(" ");
}

export function logEnvelope(entry: LogEntry): void {
  entries.push(entry);
  const list = byId<HTMLUListElement>("log");
  const li = document.createElement("li");
  li.dataset["correlationId"] = entry.correlationId;
  li.dataset["direction"] = entry.direction;
  li.dataset["subject"] = entry.subject;
  li.dataset["scenario"] = entry.scenario;
  const now = new Date();
  const cells: [string, string][] = [
    ["time", `${now.toISOString().slice(11, 23)}`],
    ["dir", entry.direction === "sent" ? "→ sent" : "← received"],
    ["subject", entry.subject],
    ["cid", entry.correlationId],
    ["detail", entry.detail],
  ];
  for (const [cls, text] of cells) {
    const span = document.createElement("span");
    span.className = cls;
    span.textContent = text;
    span.title = text;
    li.append(span);
  }
  list.prepend(li);
  if (entry.scenario === "health") {
    feedEntries++;
    if (feedEntries > MAX_FEED_ENTRIES) {
      const old = list.querySelectorAll<HTMLLIElement>('li[data-scenario="health"]');
      old[old.length - 1]?.remove();
      feedEntries--;
    }
  }
}
