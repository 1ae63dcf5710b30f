{#- Root of the Delta lake; the Python runner passes an absolute path. -#}
{% macro lake_uri() -%}
    {{- env_var('FEEDBACKLOOP_LAKE_URI', '../lake') | replace('\\', '/') -}}
{%- endmacro %}

{#- Where a relation's Delta table lives in the lake: <lake_uri>/<schema>/<identifier>. -#}
{% macro delta_location(relation) -%}
    {{- lake_uri() ~ '/' ~ relation.schema ~ '/' ~ relation.identifier -}}
{%- endmacro %}
