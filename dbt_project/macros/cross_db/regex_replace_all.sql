{#- Replace every match of a regex. `replacement` is a SQL expression, e.g. "' '" or "chr(10)".
    DuckDB needs the 'g' flag; Spark SQL replaces all matches but reads backslashes in string
    literals as escapes, so patterns are written once (DuckDB style) and doubled here. -#}
{% macro regex_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regex_replace_all', 'feedbackloop')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', {{ replacement }}, 'g')
{%- endmacro %}

{% macro databricks__regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern | replace("\\", "\\\\") }}', {{ replacement }})
{%- endmacro %}

{% macro spark__regex_replace_all(expr, pattern, replacement) -%}
    {{ databricks__regex_replace_all(expr, pattern, replacement) }}
{%- endmacro %}
