{#- Source-level access on Databricks: attach the Unity Catalog row filter generated from
    config/access.yaml (feedbackloop access sql) to every model that has a source_system column.
    Other adapters have no row filters; there the hook renders nothing and dbt skips it. -#}
{% macro apply_source_row_filter() -%}
    {{ return(adapter.dispatch('apply_source_row_filter', 'feedbackloop')()) }}
{%- endmacro %}

{% macro default__apply_source_row_filter() -%}
{%- endmacro %}

{% macro databricks__apply_source_row_filter() -%}
    {%- set row_filter = var('access_row_filter', '') -%}
    {%- if execute and row_filter and model.resource_type == 'model' -%}
        {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
        {%- if 'source_system' in columns -%}
            alter table {{ this }} set row filter {{ target.catalog }}.{{ row_filter }} on (source_system)
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
