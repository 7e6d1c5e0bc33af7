{{ preamble -}}
"""
    {{ module }}

{{ title }} {{ version }}: NATSBridge types and operation signatures, generated from
`{{ source }}`.

The payload types (with StructTypes mappings for JSON3) are in the submodule `Payloads`
(`using {{ module }}.Payloads`). The subject builders are complete. The operations are declared with
their signatures and documented; their methods come from a NATSBridge Julia runtime.
"""
module {{ module }}

include("Payloads.jl")
using .Payloads

export check_token
{%- for c in channels %}
export {{ c.upper }}_ADDRESS, {{ c.upper }}_WILDCARD, {{ c.ident }}_subject
{%- endfor %}
{%- for m in messages %}
export {{ m.name }}
{%- endfor %}
{%- for o in ops %}
export {{ o.ident }}{% if let Some(r) = o.reply_ident %}, {{ r }}{% endif %}
{%- endfor %}

"""
    check_token(param, value, wildcard_ok) -> value

A channel parameter must be one subject token: not empty, no `.`, `>` or whitespace, and
`*` only alone where a receiver may use a wildcard.
"""
function check_token(param::AbstractString, value::AbstractString, wildcard_ok::Bool)
    bad = isempty(value) || occursin('.', value) || occursin('>', value) || any(isspace, value) ||
          (occursin('*', value) && !(wildcard_ok && value == "*"))
    bad && throw(ArgumentError("channel parameter `$param` = $(repr(value)) is not one subject token"))
    return value
end
{% for c in channels %}
"""`{{ c.address }}`{% if !c.doc.is_empty() %}: {{ c.doc }}{% endif %}"""
const {{ c.upper }}_ADDRESS = "{{ c.address }}"

"""`{{ c.address }}` with every parameter a wildcard."""
const {{ c.upper }}_WILDCARD = "{{ c.wildcard }}"

"""
    {{ c.ident }}_subject({{ c.args }}; wildcard_ok = false) -> String

The subject `{{ c.address }}` for these parameters.
"""
{{ c.ident }}_subject({{ c.args }}; wildcard_ok::Bool = false) = string({{ c.concat }})
{% endfor %}
{%- for m in messages %}
"""
Message `{{ m.key }}`: payload `{{ m.dataname }}` (`{{ m.payload_type }}`){% if !m.headers.is_empty() %} and its NATS headers{% endif %}.
"""
struct {{ m.name }}
    {{ m.field }}::{{ m.field_ty }}
{%- for h in m.headers %}
    {{ h.0 }}::{{ h.1 }}
{%- endfor %}
end
{% endfor %}
{%- for o in ops %}
"""
    {{ o.signature }}

`{{ o.key }}`{% if !o.doc.is_empty() %}: {{ o.doc }}{% endif %} {{ o.what }}
"""
function {{ o.ident }} end
{%- if let Some(r) = o.reply_ident %}

"""
    {{ r }}(bridge, to::Incoming{ {{- o.message -}} }, reply::{{ o.reply }})

Answers a message of `{{ o.ident }}` with its reply.
"""
function {{ r }} end
{%- endif %}
{% endfor %}
end # module
