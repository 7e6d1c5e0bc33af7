{{ preamble -}}
# The runtime profile of wire v1 (schema/runtime_profile_v1.json): the same names as in
# every runtime. Included by the module.
{% for g in groups %}
# {{ g.name }}: {{ g.doc }}
{% for c in g.constants %}
{%- for line in c.doc %}
# {{ line }}
{%- endfor %}
const {{ c.name }} = {{ c.jl }}
{% endfor %}
{%- endfor %}
{%- for p in predicates %}
"""Whether `{{ p.konst }}` takes `status`."""
{{ p.snake }}(status::Integer) = !(status in {{ p.konst }}.except) &&
    (status in {{ p.konst }}.statuses || any(r -> r[1] <= status <= r[2], {{ p.konst }}.ranges))
{% endfor %}
