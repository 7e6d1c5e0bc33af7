{{ preamble -}}
//! The spec's channels: subject templates, wildcard forms and subject builders.

{%- if !channels.is_empty() %}
use natsbridge::Result;
{%- endif %}
{% for c in channels %}
/// `{{ c.address }}`{% if !c.doc.is_empty() %}: {{ c.doc }}{% endif %}
pub const {{ c.upper }}_ADDRESS: &str = "{{ c.address }}";

/// `{{ c.address }}` with every parameter a wildcard: a subscription to all of them.
pub const {{ c.upper }}_WILDCARD: &str = "{{ c.wildcard }}";
{%- if let Some(stream) = c.stream %}

/// The JetStream stream that keeps `{{ c.address }}`.
pub const {{ c.upper }}_STREAM: &str = "{{ stream }}";
{%- endif %}

/// The subject `{{ c.address }}` for these parameters; each must be one subject token.
{%- for p in c.params %}
{%- if !p.doc.is_empty() %}
///
/// `{{ p.name }}`: {{ p.doc }}
{%- endif %}
{%- if !p.allowed.is_empty() %}
///
/// `{{ p.name }}` is one of `{{ p.allowed }}`.
{%- endif %}
{%- endfor %}
pub fn {{ c.ident }}({{ c.args }}) -> Result<String> {
    Ok(format!("{{ c.format }}"{% for p in c.params %}, {% if p.allowed.is_empty() %}natsbridge::typed::token("{{ p.name }}", {{ p.ident }}, false){% else %}natsbridge::typed::token_of("{{ p.name }}", {{ p.ident }}, {{ p.allowed }}, false){% endif %}?{% endfor %}))
}

/// The subject `{{ c.address }}` to receive on: as [`{{ c.ident }}`], and a parameter may be `*`.
pub fn {{ c.ident }}_filter({{ c.args }}) -> Result<String> {
    Ok(format!("{{ c.format }}"{% for p in c.params %}, {% if p.allowed.is_empty() %}natsbridge::typed::token("{{ p.name }}", {{ p.ident }}, true){% else %}natsbridge::typed::token_of("{{ p.name }}", {{ p.ident }}, {{ p.allowed }}, true){% endif %}?{% endfor %}))
}
{% endfor %}
