/**
 * Request/reply on top of smartsend and smartreceive: a request carries a fresh inbox in
 * `reply_to`; the reply keeps the request's correlation id and names it in `reply_to_msg_id`.
 */
import { createInbox, type NatsConnection } from "@nats-io/nats-core";
import type { MsgEnvelopeV1 } from "@natsbridge/types";
import { NatsBridgeError, asBridgeError } from "./errors.js";
import type { PayloadTuple } from "./payload.js";
import { smartreceive, type ReceiveOptions, type Received } from "./receive.js";
import { smartsend, type SendOptions, type Sent } from "./send.js";
import { checkedUuid } from "./wire.js";

/** Sends a request envelope and waits for the first reply envelope (decoded) on a fresh inbox. */
export async function smartrequest(
  nc: NatsConnection,
  subject: string,
  payloads: readonly PayloadTuple[],
  options: SendOptions = {},
  receive: ReceiveOptions = {},
  timeoutMs = 10_000,
): Promise<Received> {
  const cid = checkedUuid(options.correlationId, "correlation_id");
  const inbox = createInbox();
  let sub;
  try {
    sub = nc.subscribe(inbox, { max: 1 });
  } catch (e) {
    throw new NatsBridgeError("NATS_CONNECTION_FAILED", "subscribing to the reply inbox", { correlationId: cid, cause: e });
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const first = (async () => {
      for await (const m of sub) return m;
      return undefined;
    })();
    await smartsend(subject, payloads, { ...options, connection: nc, correlationId: cid, replyTo: inbox, publish: true });
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), timeoutMs);
    });
    const m = await Promise.race([first, timeout]);
    if (m === "timeout") throw new NatsBridgeError("TIMEOUT", `no reply on \`${subject}\` within ${timeoutMs} ms`, { correlationId: cid });
    if (m === undefined) throw new NatsBridgeError("NATS_CONNECTION_FAILED", "reply subscription closed", { correlationId: cid });
    return await smartreceive(m, receive);
  } catch (e) {
    throw asBridgeError(e, "NATS_CONNECTION_FAILED", `request on \`${subject}\``, { correlationId: cid });
  } finally {
    clearTimeout(timer);
    sub.unsubscribe();
  }
}

/** Answers `request` on its `reply_to`, same correlation id, `reply_to_msg_id` = its `msg_id`. */
export async function smartreply(
  nc: NatsConnection,
  request: MsgEnvelopeV1,
  payloads: readonly PayloadTuple[],
  options: SendOptions = {},
): Promise<Sent> {
  if (request.reply_to === "") {
    throw new NatsBridgeError("INVALID_ENVELOPE", "the request has no `reply_to`", { correlationId: request.correlation_id });
  }
  return smartsend(request.reply_to, payloads, {
    ...options,
    connection: nc,
    correlationId: request.correlation_id,
    replyToMsgId: request.msg_id,
    receiverName: request.sender_name,
    receiverId: request.sender_id,
  });
}
