{%- macro consts(m) %}
    const NAME: &'static str = "{{ m.name }}";
    const PAYLOAD_TYPE: natsbridge::PayloadType = natsbridge::PayloadType::{{ m.payload_variant }};
{%- if let Some(c) = m.correlation %}

    fn correlation(&self) -> typed::Correlation {
        {{ c }}
    }
{%- endif %}
{%- endmacro %}
{{- preamble -}}
//! The spec's messages as [`Message`](natsbridge::typed::Message)s: the payload `dataname` and type each one travels
//! as, and its declared NATS headers.

{%- if !messages.is_empty() %}
// Every name qualified: a message may be called `Message`, `Payload` or `Result`.
use natsbridge::typed;
{%- endif %}
{% for m in messages %}
{%- if !m.union.is_empty() %}

/// {{ m.doc }}
///
/// One subscription receives them all; each value travels as its own message's payload.
#[derive(Debug, Clone)]
pub enum {{ m.ty }} {
{%- for v in m.union %}
    /// Message `{{ v.name }}`.
    {{ v.variant }}({{ v.ty }}),
{%- endfor %}
}

impl typed::Message for {{ m.ty }} {
    const NAME: &'static str = "{{ m.name }}";
    const PAYLOAD_TYPE: natsbridge::PayloadType = <{{ m.union[0].ty }} as typed::Message>::PAYLOAD_TYPE;

    fn dataname(&self) -> &'static str {
        match self {
{%- for v in m.union %}
            Self::{{ v.variant }}(m) => m.dataname(),
{%- endfor %}
        }
    }
{%- if m.correlation.is_some() %}

    fn correlation(&self) -> typed::Correlation {
        match self {
{%- for v in m.union %}
            Self::{{ v.variant }}(m) => m.correlation(),
{%- endfor %}
        }
    }
{%- endif %}

    fn encode(&self) -> natsbridge::Result<(natsbridge::Payload, typed::Headers)> {
        match self {
{%- for v in m.union %}
            Self::{{ v.variant }}(m) => m.encode(),
{%- endfor %}
        }
    }

    fn decode(received: &natsbridge::Received) -> natsbridge::Result<Self> {
        let names = [{% for v in m.union %}<{{ v.ty }} as typed::Message>::NAME, {% endfor %}];
        match typed::which(received, &names)? {
{%- for v in m.union %}
            {{ loop.index0 }} => Ok(Self::{{ v.variant }}(<{{ v.ty }} as typed::Message>::decode(received)?)),
{%- endfor %}
            _ => unreachable!("`which` answers an index of `names`"),
        }
    }
}
{%- else if m.json_only %}

/// Message `{{ m.key }}`: payload `{{ m.name }}` (`{{ m.payload_type }}`).
impl typed::Message for crate::{{ m.ty }} {
{%- call consts(m) %}{% endcall %}

    fn encode(&self) -> natsbridge::Result<(natsbridge::Payload, typed::Headers)> {
        Ok((typed::encode_json(Self::NAME, self, |v, r| crate::check("{{ m.schema_type }}", v, r))?, Vec::new()))
    }

    fn decode(received: &natsbridge::Received) -> natsbridge::Result<Self> {
        typed::decode_json(received, Self::NAME, |v, r| crate::check("{{ m.schema_type }}", v, r))
    }
}
{%- else %}
{%- if !m.headers.is_empty() %}

/// The NATS headers of message `{{ m.key }}`.
#[derive(Debug, Clone, PartialEq)]
pub struct {{ m.ty }}Headers {
{%- for h in m.headers %}
    /// `{{ h.name }}`{% if !h.doc.is_empty() %}: {{ h.doc }}{% endif %}
    pub {{ h.ident }}: {{ h.ty }},
{%- endfor %}
}
{%- endif %}

/// Message `{{ m.key }}`: payload `{{ m.name }}` (`{{ m.payload_type }}`){% if !m.headers.is_empty() %} and its headers{% endif %}.
{%- if !m.doc.is_empty() %}
///
/// {{ m.doc }}
{%- endif %}
#[derive(Debug, Clone)]
pub struct {{ m.ty }} {
    /// The payload.
    pub {{ m.field }}: {{ m.field_ty }},
{%- if !m.headers.is_empty() %}
    /// The declared headers.
    pub headers: {{ m.ty }}Headers,
{%- endif %}
}

impl typed::Message for {{ m.ty }} {
{%- call consts(m) %}{% endcall %}

    fn encode(&self) -> natsbridge::Result<(natsbridge::Payload, typed::Headers)> {
        #[allow(unused_mut)]
        let mut headers = typed::Headers::new();
{%- for h in m.headers %}
{%- if h.required %}
        headers.push(("{{ h.name }}".to_owned(), self.headers.{{ h.ident }}.to_string()));
{%- else %}
        if let Some(value) = &self.headers.{{ h.ident }} {
            headers.push(("{{ h.name }}".to_owned(), value.to_string()));
        }
{%- endif %}
{%- endfor %}
        Ok(({{ m.encode }}, headers))
    }

    fn decode(received: &natsbridge::Received) -> natsbridge::Result<Self> {
        let found = typed::payload(received, Self::NAME, Self::PAYLOAD_TYPE)?;
        let {{ m.field }} = match &found.data {
            {{ m.decode_pattern }} => {{ m.decode_value }},
            _ => unreachable!("a `{{ m.payload_type }}` payload decodes to its own variant"),
        };
        Ok({{ m.ty }} {
            {{ m.field }},
{%- if !m.headers.is_empty() %}
            headers: {{ m.ty }}Headers {
{%- for h in m.headers %}
{%- if h.required %}
                {{ h.ident }}: typed::required_header(received, "{{ h.name }}")?,
{%- else %}
                {{ h.ident }}: typed::header(received, "{{ h.name }}")?,
{%- endif %}
{%- endfor %}
            },
{%- endif %}
        })
    }
}
{%- endif %}
{% endfor %}
