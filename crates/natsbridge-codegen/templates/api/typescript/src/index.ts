{{ preamble }}
/**
 * {{ title }} {{ version }}: typed NATS operations generated from {{ source }}.
{%- for line in description %}
 *{% if !line.is_empty() %} {{ line }}{% endif %}
{%- endfor %}
 *
 * - `types`: the payload types, with ajv validators (`validateX`, `parseX`).
 * - `channels`: each channel's subject, with its parameters as one typed object.
 * - `messages`: how each message travels (a codec per message over the v1 envelope).
 * - `operations`: one function per operation of the document, over a `Bridge` of
 *   `@natsbridge/client` (`new Bridge(await connect({ servers }))`), re-exported here with
 *   the types the operations take and return.
 *
 * Every message is one `msg_envelope_v1` with one payload named after the message, its
 * declared headers as NATS headers: plain `smartsend` / `smartreceive` interoperate with it.
 */
export * from "./types.js";
export * from "./channels.js";
export * from "./messages.js";
export * from "./operations.js";
export { Bridge, type Incoming, type Replay, type Subscription } from "@natsbridge/client";
