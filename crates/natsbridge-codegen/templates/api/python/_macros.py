{#- Fragments of the Python API package, shared by its modules. -#}

{#- A `typed.Correlation(...)`. -#}
{% macro correlation(c) -%}
{% match c %}{% when CorrelationView::Header(h) %}typed.Correlation(header={{ h }}){% when CorrelationView::Payload(path) %}typed.Correlation(payload=({{ path|join(", ") }},)){% endmatch %}
{%- endmacro %}

{#- An operation's subject: `channels.x_subject(a=a, ...)` (`wildcard_ok=True` when receiving). -#}
{% macro subject(op) -%}
channels.{{ op.subject_fn }}({% for a in op.args %}{% if !loop.first %}, {% endif %}{{ a }}={{ a }}{% endfor %}{% if op.receiving && !op.args.is_empty() %}, wildcard_ok=True{% endif %})
{%- endmacro %}

{#- The keyword-only arguments of an operation: one per channel parameter. -#}
{% macro args(op) -%}
{% for a in op.args %}, {{ a }}: str{% endfor %}
{%- endmacro %}
