{#- Continuous percentile of a numeric column; aggregate. -#}
{% macro percentile(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'feedbackloop')(expr, fraction)) }}
{%- endmacro %}

{% macro default__percentile(expr, fraction) -%}
    quantile_cont({{ expr }}, {{ fraction }})
{%- endmacro %}

{% macro databricks__percentile(expr, fraction) -%}
    percentile({{ expr }}, {{ fraction }})
{%- endmacro %}

{% macro spark__percentile(expr, fraction) -%}
    {{ databricks__percentile(expr, fraction) }}
{%- endmacro %}
