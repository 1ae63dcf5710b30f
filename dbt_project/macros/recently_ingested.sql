{#- On an incremental run, keep only the bronze rows that can be new to this model.

    When feedbackloop runs the build, it leaves a watermark per bronze table: the oldest ingested_at
    among the rows committed since the model's last build (read off the Delta log; see
    feedbackloop/transform/state.py). Otherwise the model looks back from its newest row, less a
    look-back for files that were still being ingested then. Either way the bound is inlined as a
    literal, so the Delta scan can skip old files by their statistics instead of reading all of bronze. -#}
{% macro recently_ingested(column='ingested_at', source_table=none) -%}
    {%- if is_incremental() -%}
        {%- set watermark = bronze_watermark(source_table) if source_table else none -%}
        {%- if watermark is not none -%}
            {{ column }} >= cast('{{ watermark }}' as {{ dbt.type_timestamp() }})
        {%- else -%}
            {%- set newest = run_query('select max(' ~ column ~ ') from ' ~ this).columns[0].values()[0] -%}
            {%- if newest is not none -%}
                {{ column }} >= {{ dbt.dateadd('hour', -var('silver_lookback_hours', 24),
                                               "cast('" ~ newest ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
            {%- else -%}
                true
            {%- endif -%}
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The watermark feedbackloop left for ``source_table`` (e.g. 'bronze.feedback') for this build, or none. -#}
{% macro bronze_watermark(source_table) -%}
    {{ return(adapter.dispatch('bronze_watermark', 'feedbackloop')(source_table)) }}
{%- endmacro %}

{#- A Databricks job cannot see the local state directory: it uses the look-back. -#}
{% macro default__bronze_watermark(source_table) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro duckdb__bronze_watermark(source_table) -%}
    {%- set path = state_file('watermarks.json') -%}
    {%- if path is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set marks = run_query("select ingested_from from read_json('" ~ path ~ "', format = 'array', "
                              ~ "columns = {'table': 'varchar', 'ingested_from': 'varchar'}) "
                              ~ "where \"table\" = '" ~ source_table ~ "'").columns[0].values() -%}
    {{ return(marks[0] if marks else none) }}
{%- endmacro %}
