{{ preamble -}}
//! The spec's operations, one function each, over a [`Bridge`].

{%- if !ops.is_empty() %}
use natsbridge::Result;
use natsbridge::typed::{self, Bridge};

use crate::channels;
{%- endif %}
{% for o in ops %}
/// `{{ o.key }}`{% if !o.doc.is_empty() %}: {{ o.doc }}{% endif %}
///
/// {{ o.what }}
{%- match o.kind.as_str() %}
{%- when "publish" %}
pub async fn {{ o.ident }}(bridge: &Bridge, {{ o.args }}message: &{{ o.message }}) -> Result<natsbridge::Sent> {
    typed::publish(bridge, &channels::{{ o.channel }}({{ o.call }})?, message, natsbridge::types::MsgPurpose::from("{{ o.purpose }}")).await
}
{%- when "request" %}
pub async fn {{ o.ident }}(bridge: &Bridge, {{ o.args }}message: &{{ o.message }}) -> Result<typed::Incoming<{{ o.reply }}>> {
    typed::request(bridge, &channels::{{ o.channel }}({{ o.call }})?, message, natsbridge::types::MsgPurpose::from("{{ o.purpose }}")).await
}
{%- when "stream_publish" %}
pub async fn {{ o.ident }}(bridge: &Bridge, {{ o.args }}message: &{{ o.message }}) -> Result<natsbridge::Sent> {
    typed::publish_to_stream(bridge, &channels::{{ o.channel }}({{ o.call }})?, message, natsbridge::types::MsgPurpose::from("{{ o.purpose }}")).await
}
{%- when "subscribe" %}
pub async fn {{ o.ident }}(bridge: &Bridge{{ o.args_tail }}) -> Result<typed::Subscription<{{ o.message }}>> {
    typed::subscribe(bridge, &channels::{{ o.channel }}_filter({{ o.call }})?, {{ o.queue }}).await
}
{%- when "serve" %}
pub async fn {{ o.ident }}(bridge: &Bridge{{ o.args_tail }}) -> Result<typed::Subscription<{{ o.message }}>> {
    typed::subscribe(bridge, &channels::{{ o.channel }}_filter({{ o.call }})?, {{ o.queue }}).await
}

/// Answers a message of [`{{ o.ident }}`] with its reply.
pub async fn {{ o.ident }}_reply(bridge: &Bridge, to: &typed::Incoming<{{ o.message }}>, reply: &{{ o.reply }}) -> Result<natsbridge::Sent> {
    typed::reply(bridge, to, reply).await
}

/// Answers a message of [`{{ o.ident }}`] it cannot serve with an `error_response_v1`; the
/// requester gets `error` as a remote error.
pub async fn {{ o.ident }}_error(bridge: &Bridge, to: &typed::Incoming<{{ o.message }}>, error: &natsbridge::Error) -> Result<()> {
    typed::reply_error(bridge, to, error).await
}
{%- when _ %}
pub fn {{ o.ident }}(bridge: &Bridge{{ o.args_tail }}, options: natsbridge::jetstream::ConsumerOptions) -> Result<typed::Replay<{{ o.message }}>> {
    let options = natsbridge::jetstream::ConsumerOptions { filter_subject: Some(channels::{{ o.channel }}_filter({{ o.call }})?), ..options };
    Ok(typed::replay(bridge, channels::{{ o.upper_channel }}_STREAM, options))
}
{%- endmatch %}
{% endfor %}
