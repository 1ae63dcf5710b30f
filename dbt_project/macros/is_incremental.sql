{#- dbt's is_incremental() wants the model to exist as a table; on DuckDB our incremental models
    exist as views over their Delta tables, so accept either there. -#}
{% macro is_incremental() -%}
    {%- if not execute or model.config.materialized != 'incremental' or should_full_refresh() -%}
        {{ return(false) }}
    {%- endif -%}
    {#- `dbt compile --no-introspect` (offline compilation for Databricks) has no connection to ask. -#}
    {%- if flags.INTROSPECT is false -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
    {{ return(adapter.dispatch('is_incremental_relation', 'feedbackloop')(relation)) }}
{%- endmacro %}

{% macro default__is_incremental_relation(relation) -%}
    {{ return(relation is not none and relation.type == 'table') }}
{%- endmacro %}

{% macro duckdb__is_incremental_relation(relation) -%}
    {{ return(relation is not none and relation.type in ('table', 'view')) }}
{%- endmacro %}
