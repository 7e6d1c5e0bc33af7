{#- Fragments of the TypeScript API package, shared by its modules. -#}

{#- `import { a, type B } from "from";`, or `import type { .. }` when every name is a type; nothing for no names. -#}
{% macro import(i) -%}
{% if !i.names.is_empty() -%}
import {% if i.types_only %}type { {% for (_, n) in i.names %}{% if !loop.first %}, {% endif %}{{ n }}{% endfor %} }{% else %}{ {% for (is_type, n) in i.names %}{% if !loop.first %}, {% endif %}{% if *is_type %}type {% endif %}{{ n }}{% endfor %} }{% endif %} from "{{ i.from }}";
{%- endif %}
{%- endmacro %}

{#- A `typed.Correlation` literal. -#}
{% macro correlation(c) -%}
{% match c %}{% when CorrelationView::Header(h) %}{ header: {{ h }} }{% when CorrelationView::Payload(path) %}{ payload: [{{ path|join(", ") }}] }{% endmatch %}
{%- endmacro %}

{#- The `params: XParams, ` argument of an operation on a channel with parameters. -#}
{% macro params_arg(o) -%}
{% if o.has_params %}params: {{ o.params_type }}, {% endif %}
{%- endmacro %}

{#- An operation's subject: the channel's subject function over `params` (a wildcard allowed when receiving). -#}
{% macro subject(o) -%}
{{ o.subject_fn }}({% if o.has_params %}params{% if o.receiving %}, { wildcard: true }{% endif %}{% endif %})
{%- endmacro %}
