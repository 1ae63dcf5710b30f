{#- Every dbt source is a Delta table at <lake>/<schema>/<table>, written by a Python stage. -#}
{% macro register_lake_sources() -%}
    {{ return(adapter.dispatch('register_lake_sources', 'feedbackloop')()) }}
{%- endmacro %}

{% macro default__register_lake_sources() -%}
    {%- if execute -%}
    {%- for source in graph.sources.values() -%}
        create or replace view {{ source.schema }}.{{ source.identifier }} as
            select * from delta_scan('{{ lake_uri() }}/{{ source.schema }}/{{ source.identifier }}');
    {% endfor -%}
    {%- endif -%}
{%- endmacro %}

{% macro databricks__register_lake_sources() -%}
    {%- if execute -%}
    {%- for source in graph.sources.values() -%}
        create table if not exists {{ target.catalog }}.{{ source.schema }}.{{ source.identifier }}
            using delta location '{{ lake_uri() }}/{{ source.schema }}/{{ source.identifier }}';
    {% endfor -%}
    {%- endif -%}
{%- endmacro %}
