{{ preamble -}}
"""
    {{ module }}

{{ title }}, with
StructTypes mappings so `JSON3.read(text, MsgEnvelopeV1)` and `JSON3.write(x)` work.
Enum-typed fields are `String`s (open: unknown values are kept); the `@enum`s list the
values this schema version knows, with `parse_x` to map a string to one (or `nothing`).
"""
module {{ module }}

using JSON3
using StructTypes

export {{ exports }}
{% for e in enums %}
"""
{{ e.doc }}
"""
@enum {{ e.name }} begin
{%- for m in e.members %}
    {{ m.0 }}
{%- endfor %}
end

const _{{ e.snake }}_strings = Dict{ {{- e.name }},String}(
{%- for m in e.members %}
    {{ m.0 }} => "{{ m.1 }}",
{%- endfor %}
)

"""The wire string of a known {{ e.name }}."""
wire_string(x::{{ e.name }}) = _{{ e.snake }}_strings[x]

"""The {{ e.name }} for a wire string, or `nothing` when this schema version does not know it."""
function parse_{{ e.snake }}(s::AbstractString)::Union{ {{- e.name }},Nothing}
    for (k, v) in _{{ e.snake }}_strings
        v == s && return k
    end
    return nothing
end
{% endfor %}
{%- for a in aliases %}
"""
{{ a.doc }}
"""
const {{ a.name }} = {{ a.ty }}
{% endfor %}
{%- for s in structs %}
"""
{{ s.doc }}
"""
Base.@kwdef mutable struct {{ s.name }}
{%- for f in s.fields %}
    "{{ f.doc }}"
    {{ f.name }}::{{ f.ty }} = {{ f.default }}
{%- endfor %}
end

StructTypes.StructType(::Type{ {{- s.name }}}) = StructTypes.Mutable()
StructTypes.omitempties(::Type{ {{- s.name }}}) = {{ s.omit }}
StructTypes.names(::Type{ {{- s.name }}}) = {{ s.renames }}

"""Parse JSON text into a `{{ s.name }}`."""
parse_{{ s.snake }}(text::AbstractString) = JSON3.read(text, {{ s.name }})
{% endfor %}
"""Serialize any wire type to JSON text."""
dump_json(x) = JSON3.write(x)

end # module
