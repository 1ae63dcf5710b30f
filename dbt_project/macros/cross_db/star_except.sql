{#- `select *` without some columns: DuckDB says `exclude`, Databricks says `except`. -#}
{% macro star_except(columns) -%}
    {{ return(adapter.dispatch('star_except', 'feedbackloop')(columns)) }}
{%- endmacro %}

{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro databricks__star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}
