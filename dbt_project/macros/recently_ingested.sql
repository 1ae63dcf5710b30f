{#- On an incremental run, keep only bronze rows ingested since this model's newest row, less a
    look-back for files that were still being ingested then. The watermark is inlined as a literal
    so the Delta scan can skip old files by their statistics instead of reading all of bronze. -#}
{% macro recently_ingested(column='ingested_at') -%}
    {%- if is_incremental() -%}
        {%- set newest = run_query('select max(' ~ column ~ ') from ' ~ this).columns[0].values()[0] -%}
        {%- if newest is not none -%}
            {{ column }} >= {{ dbt.dateadd('hour', -var('silver_lookback_hours', 24),
                                           "cast('" ~ newest ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
        {%- else -%}
            true
        {%- endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
