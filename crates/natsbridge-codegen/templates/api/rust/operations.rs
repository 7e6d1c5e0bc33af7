{{ preamble -}}
//! The spec's operations, one function each, over a [`Bridge`].

use natsbridge::jetstream::ConsumerOptions;
use natsbridge::{Result, Sent};
use natsbridge::typed::{self, Bridge, Incoming, Replay, Subscription};
use natsbridge::types::MsgPurpose;

use crate::channels;
{% for o in ops %}
/// `{{ o.key }}`{% if !o.doc.is_empty() %}: {{ o.doc }}{% endif %}
///
/// {{ o.what }}
{%- match o.kind.as_str() %}
{%- when "publish" %}
pub async fn {{ o.ident }}(bridge: &Bridge, {{ o.args }}message: &{{ o.message }}) -> Result<Sent> {
    typed::publish(bridge, &channels::{{ o.channel }}({{ o.call }})?, message, MsgPurpose::from("{{ o.purpose }}")).await
}
{%- when "request" %}
pub async fn {{ o.ident }}(bridge: &Bridge, {{ o.args }}message: &{{ o.message }}) -> Result<Incoming<{{ o.reply }}>> {
    typed::request(bridge, &channels::{{ o.channel }}({{ o.call }})?, message, MsgPurpose::from("{{ o.purpose }}")).await
}
{%- when "stream_publish" %}
pub async fn {{ o.ident }}(bridge: &Bridge, {{ o.args }}message: &{{ o.message }}) -> Result<Sent> {
    typed::publish_to_stream(bridge, &channels::{{ o.channel }}({{ o.call }})?, message, MsgPurpose::from("{{ o.purpose }}")).await
}
{%- when "subscribe" %}
pub async fn {{ o.ident }}(bridge: &Bridge{{ o.args_tail }}) -> Result<Subscription<{{ o.message }}>> {
    typed::subscribe(bridge, &channels::{{ o.channel }}_filter({{ o.call }})?, {{ o.queue }}).await
}
{%- when "serve" %}
pub async fn {{ o.ident }}(bridge: &Bridge{{ o.args_tail }}) -> Result<Subscription<{{ o.message }}>> {
    typed::subscribe(bridge, &channels::{{ o.channel }}_filter({{ o.call }})?, {{ o.queue }}).await
}

/// Answers a message of [`{{ o.ident }}`] with its reply.
pub async fn {{ o.ident }}_reply(bridge: &Bridge, to: &Incoming<{{ o.message }}>, reply: &{{ o.reply }}) -> Result<Sent> {
    typed::reply(bridge, to, reply).await
}

/// Answers a message of [`{{ o.ident }}`] it cannot serve with an `error_response_v1`; the
/// requester gets `error` as a remote error.
pub async fn {{ o.ident }}_error(bridge: &Bridge, to: &Incoming<{{ o.message }}>, error: &natsbridge::Error) -> Result<()> {
    typed::reply_error(bridge, to, error).await
}
{%- when _ %}
pub fn {{ o.ident }}(bridge: &Bridge{{ o.args_tail }}, options: ConsumerOptions) -> Result<Replay<{{ o.message }}>> {
    let options = ConsumerOptions { filter_subject: Some(channels::{{ o.channel }}_filter({{ o.call }})?), ..options };
    Ok(typed::replay(bridge, channels::{{ o.upper_channel }}_STREAM, options))
}
{%- endmatch %}
{% endfor %}
