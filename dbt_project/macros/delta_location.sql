{#- Root of the Delta lake; the Python runner passes an absolute path. -#}
{% macro lake_uri() -%}
    {{- env_var('FEEDBACKLOOP_LAKE_URI', '../lake') | replace('\\', '/') -}}
{%- endmacro %}

{#- Where a relation's Delta table lives in the lake: <lake_uri>/<schema>/<identifier>. -#}
{% macro delta_location(relation) -%}
    {{- lake_uri() ~ '/' ~ relation.schema ~ '/' ~ relation.identifier -}}
{%- endmacro %}

{#- Hand a relation to the `delta_lake` plugin to write at `location` ("delta:<mode>", see
    feedbackloop/transform/delta_plugin.py). dbt-duckdb's own `store_relation` first describes the
    relation for a column list this plugin never reads; describing a staged view binds its whole
    query (up to 35 ms a model). -#}
{% macro store_in_delta(relation, location, mode, config) -%}
    {% do adapter.store_relation('delta_lake', relation, [], location, 'delta:' ~ mode, config) %}
{%- endmacro %}
