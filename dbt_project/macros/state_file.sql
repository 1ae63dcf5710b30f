{#- A file feedbackloop leaves in its state directory (`_state` beside the warehouse file; see
    Settings.state_dir) for the length of one build, or none when it is not there (a `dbt build`
    by hand, a build that does not use it). DuckDB only: other targets cannot see that directory. -#}
{% macro state_file(name) -%}
    {%- set path = env_var('FEEDBACKLOOP_WAREHOUSE_PATH', '../lake/warehouse.duckdb').rsplit('/', 1)[0]
                   ~ '/_state/' ~ name -%}
    {#- glob() lists nothing, rather than failing, when the file is absent -#}
    {%- if run_query("select count(*) from glob('" ~ path ~ "')").columns[0].values()[0] == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(path) }}
{%- endmacro %}
