{% import "api/typescript/_macros.ts" as ts -%}
{{ preamble }}
/**
 * The operations of {{ title }}, one function each, over a `Bridge` of `@natsbridge/client`.
 * Sends resolve once published (requests: once the typed reply is in; stream publishes: once
 * JetStream acknowledged). Subscriptions yield each message as an `Incoming` or, for a message
 * that cannot be decoded, the `NatsBridgeError` saying why (code, correlation id, dataname),
 * and go on. Errors are `NatsBridgeError`s.
 */
{% call ts::import(client_imports) %}{% endcall %}
{% call ts::import(channel_imports) %}{% endcall %}
{% call ts::import(codec_imports) %}{% endcall %}
{%- if !type_imports.names.is_empty() %}
{% call ts::import(type_imports) %}{% endcall %}
{%- endif %}
{%- for o in operations %}

{% filter doc_wrapped("") -%}
{% if !o.doc.is_empty() %}{{ o.doc }}

{% endif -%}
{% if o.kind == "publish" -%}
Publishes `{{ o.message_name }}` on `{{ o.address }}`.
{%- else if o.kind == "request" -%}
Sends `{{ o.message_name }}` as a request on `{{ o.address }}` and resolves with the reply `{{ o.reply_name }}`.
{%- else if o.kind == "stream-publish" -%}
Publishes `{{ o.message_name }}` on `{{ o.address }}` into the JetStream stream `{{ o.stream_name }}` and resolves once it is acknowledged.
{%- else if o.kind == "subscribe" -%}
Subscribes to `{{ o.message_name }}` on `{{ o.address }}`{% if o.has_params %} (a parameter may be `*`){% endif %}.
{%- else if o.kind == "serve" -%}
Subscribes to the requests `{{ o.message_name }}` on `{{ o.address }}`{% if o.has_params %} (a parameter may be `*`){% endif %}{% if !o.queue_name.is_empty() %} in the queue group `{{ o.queue_name }}`{% endif %}; answer each with `{{ o.name }}Reply`. A request that cannot be decoded is answered with an `error_response_v1`.
{%- else if o.kind == "stream-consume" -%}
Replays `{{ o.message_name }}` from the JetStream stream `{{ o.stream_name }}` (subjects `{{ o.address }}`) with a pull consumer{% if o.has_params %}; a parameter may be `*`{% endif %}.
{%- endif %}
{%- endfilter %}
{%- if o.kind == "publish" -%}
export async function {{ o.name }}(bridge: Bridge, {% call ts::params_arg(o) %}{% endcall %}message: {{ o.message_type }}, options: SendOverrides = {}): Promise<Sent> {
  return typed.publish(bridge, {% call ts::subject(o) %}{% endcall %}, {{ o.codec }}, message, {{ o.purpose }}, options);
}
{%- else if o.kind == "request" -%}
export async function {{ o.name }}(bridge: Bridge, {% call ts::params_arg(o) %}{% endcall %}message: {{ o.message_type }}, options: SendOverrides = {}): Promise<Incoming<{{ o.reply_type }}>> {
  return typed.request(bridge, {% call ts::subject(o) %}{% endcall %}, {{ o.codec }}, {{ o.reply_codec }}, message, {{ o.purpose }}, options);
}
{%- else if o.kind == "stream-publish" -%}
export async function {{ o.name }}(bridge: Bridge, {% call ts::params_arg(o) %}{% endcall %}message: {{ o.message_type }}, options: SendOverrides = {}): Promise<Sent> {
  return typed.publishToStream(bridge, {% call ts::subject(o) %}{% endcall %}, {{ o.codec }}, message, {{ o.purpose }}, options);
}
{%- else if o.kind == "subscribe" -%}
export async function {{ o.name }}(bridge: Bridge, {% call ts::params_arg(o) %}{% endcall %}options: SubscribeOptions = {}): Promise<Subscription<{{ o.message_type }}>> {
  return typed.subscribe(bridge, {% call ts::subject(o) %}{% endcall %}, {{ o.codec }}, { {% if let Some(q) = o.queue %}queue: {{ q }}, {% endif %}{% if o.kind == "serve" %}answerErrors: true, {% endif %}...options });
}
{%- else if o.kind == "serve" -%}
export async function {{ o.name }}(bridge: Bridge, {% call ts::params_arg(o) %}{% endcall %}options: SubscribeOptions = {}): Promise<Subscription<{{ o.message_type }}>> {
  return typed.subscribe(bridge, {% call ts::subject(o) %}{% endcall %}, {{ o.codec }}, { {% if let Some(q) = o.queue %}queue: {{ q }}, {% endif %}{% if o.kind == "serve" %}answerErrors: true, {% endif %}...options });
}

/**
 * Answers a request `{{ o.name }}` yielded with `{{ o.reply_name }}` (same correlation id).
 * Answer one it cannot serve with `typed.replyError`.
 */
export async function {{ o.name }}Reply(bridge: Bridge, to: Incoming<{{ o.message_type }}>, reply: {{ o.reply_type }}, options: SendOverrides = {}): Promise<Sent> {
  return typed.reply(bridge, to, {{ o.reply_codec }}, reply, "event", options);
}
{%- else if o.kind == "stream-consume" -%}
export async function {{ o.name }}(bridge: Bridge, {% call ts::params_arg(o) %}{% endcall %}options: ConsumerOptions = {}): Promise<Replay<{{ o.message_type }}>> {
  return typed.replay(bridge, {{ o.stream }}, {{ o.codec }}, { filterSubject: {% call ts::subject(o) %}{% endcall %}, ...options });
}
{%- endif %}
{%- endfor %}
