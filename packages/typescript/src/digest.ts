/**
 * Digest lines, the contract shared with the Rust `natsbridge send` / `receive`: one JSON
 * object per envelope, keys in order `correlation_id`, `msg_purpose`, `payloads` and per
 * payload `dataname`, `payload_type`, `transport`, `size`, `sha256`, `num_rows` (tables only),
 * describing the serialized bytes as carried.
 */
import type { MsgEnvelopeV1 } from "@natsbridge/types";
import { numRows } from "./payload.js";
import { ERROR_BAD_OPTION } from "@natsbridge/types";
import { NatsBridgeError } from "./errors.js";
import { describe } from "./options.js";
import { checkReceived, type Received } from "./receive.js";

function payloadDigest(dataname: string, payloadType: string, transport: string, size: number, sha256: string, rows: number | undefined): Record<string, unknown> {
  const d: Record<string, unknown> = { dataname, payload_type: payloadType, transport, size, sha256 };
  if (rows !== undefined) d["num_rows"] = rows;
  return d;
}

function line(correlationId: string, purpose: string, payloads: Record<string, unknown>[]): string {
  return JSON.stringify({ correlation_id: correlationId, msg_purpose: purpose, payloads });
}

/** The sender's digest: sizes and hashes as smartsend recorded them; `rows` per payload (tables). */
export function digestOfSent(envelope: MsgEnvelopeV1, rows: readonly (number | undefined)[] = []): string {
  const e = envelope as { correlation_id?: unknown; payloads?: unknown } | null;
  if (typeof e !== "object" || e === null || typeof e.correlation_id !== "string" || !Array.isArray(e.payloads)) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling digestOfSent: \`envelope\` must be an envelope (\`sent.envelope\`), got ${describe(envelope)}`);
  }
  if (!Array.isArray(rows) || !rows.every((r) => r === undefined || (typeof r === "number" && Number.isSafeInteger(r) && r >= 0))) {
    throw new NatsBridgeError(ERROR_BAD_OPTION, `calling digestOfSent: \`rows\` must be an array of row counts (or undefined), got ${describe(rows)}`);
  }
  return line(
    envelope.correlation_id,
    envelope.msg_purpose,
    envelope.payloads.map((p, i) => {
      const sha = p.metadata?.["sha256"];
      return payloadDigest(p.dataname, p.payload_type, p.transport, p.size, typeof sha === "string" ? sha : "", rows[i]);
    }),
  );
}

/** The receiver's digest: sizes and hashes of the bytes it actually got. */
export function digestOfReceived(received: Received): string {
  checkReceived(received, "received", "digestOfReceived");
  return line(
    received.envelope.correlation_id,
    received.envelope.msg_purpose,
    received.payloads.map((p) => payloadDigest(p.dataname, p.payload_type, p.transport, p.bytes.byteLength, p.sha256, numRows(p.payload_type, p.data))),
  );
}
