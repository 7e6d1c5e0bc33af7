{{ preamble }}
/**
 * The operations of {{ title }}, one function each, over a `Bridge` of `@natsbridge/client`.
 * Sends resolve once published (requests: once the typed reply is in; stream publishes: once
 * JetStream acknowledged). Subscriptions yield each message as an `Incoming` or, for a message
 * that cannot be decoded, the `NatsBridgeError` saying why (code, correlation id, dataname),
 * and go on. Errors are `NatsBridgeError`s.
 */
{{ client_imports }}
{{ channel_imports }}
{{ codec_imports }}
{%- if !type_imports.is_empty() %}
{{ type_imports }}
{%- endif %}
{%- for o in operations %}

{{ o.doc }}
{%- if o.kind == "publish" -%}
export async function {{ o.name }}(bridge: Bridge, {{ o.params_arg }}message: {{ o.message_type }}, options: SendOverrides = {}): Promise<Sent> {
  return typed.publish(bridge, {{ o.subject }}, {{ o.codec }}, message, {{ o.purpose }}, options);
}
{%- else if o.kind == "request" -%}
export async function {{ o.name }}(bridge: Bridge, {{ o.params_arg }}message: {{ o.message_type }}, options: SendOverrides = {}): Promise<Incoming<{{ o.reply_type }}>> {
  return typed.request(bridge, {{ o.subject }}, {{ o.codec }}, {{ o.reply_codec }}, message, {{ o.purpose }}, options);
}
{%- else if o.kind == "stream-publish" -%}
export async function {{ o.name }}(bridge: Bridge, {{ o.params_arg }}message: {{ o.message_type }}, options: SendOverrides = {}): Promise<Sent> {
  return typed.publishToStream(bridge, {{ o.subject }}, {{ o.codec }}, message, {{ o.purpose }}, options);
}
{%- else if o.kind == "subscribe" -%}
export async function {{ o.name }}(bridge: Bridge, {{ o.params_arg }}options: SubscribeOptions = {}): Promise<Subscription<{{ o.message_type }}>> {
  return typed.subscribe(bridge, {{ o.subject }}, {{ o.codec }}, { {{ o.subscribe_defaults }}...options });
}
{%- else if o.kind == "serve" -%}
export async function {{ o.name }}(bridge: Bridge, {{ o.params_arg }}options: SubscribeOptions = {}): Promise<Subscription<{{ o.message_type }}>> {
  return typed.subscribe(bridge, {{ o.subject }}, {{ o.codec }}, { {{ o.subscribe_defaults }}...options });
}

/**
 * Answers a request `{{ o.name }}` yielded with `{{ o.reply_name }}` (same correlation id).
 * Answer one it cannot serve with `typed.replyError`.
 */
export async function {{ o.name }}Reply(bridge: Bridge, to: Incoming<{{ o.message_type }}>, reply: {{ o.reply_type }}, options: SendOverrides = {}): Promise<Sent> {
  return typed.reply(bridge, to, {{ o.reply_codec }}, reply, "event", options);
}
{%- else if o.kind == "stream-consume" -%}
export async function {{ o.name }}(bridge: Bridge, {{ o.params_arg }}options: ConsumerOptions = {}): Promise<Replay<{{ o.message_type }}>> {
  return typed.replay(bridge, {{ o.stream }}, {{ o.codec }}, { filterSubject: {{ o.subject }}, ...options });
}
{%- endif %}
{%- endfor %}
