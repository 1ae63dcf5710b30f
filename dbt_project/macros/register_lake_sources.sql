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

{#- An external location (s3://, abfss://, gs://) holds external tables. Unity Catalog refuses
    tables inside a volume, so a lake in /Volumes/... is read by path through views instead. -#}
{% macro databricks__register_lake_sources() -%}
    {%- if execute -%}
    {%- set in_volume = lake_uri().startswith('/Volumes/') -%}
    {%- for source in graph.sources.values() -%}
        {%- set location = lake_uri() ~ '/' ~ source.schema ~ '/' ~ source.identifier -%}
        {%- if in_volume %}
        create or replace view {{ target.catalog }}.{{ source.schema }}.{{ source.identifier }}
            as select * from delta.`{{ location }}`;
        {%- else %}
        create table if not exists {{ target.catalog }}.{{ source.schema }}.{{ source.identifier }}
            using delta location '{{ location }}';
        {%- endif %}
    {% endfor -%}
    {%- endif -%}
{%- endmacro %}
