{#- Incremental models that must also update and remove rows (not only append) do it in two steps
    that work the same on every target: a pre-hook deletes the rows that are stale (their key is
    listed by `stale_keys_sql`, which compares the table with its inputs), then the model appends
    every row whose key is not in the table. The result equals a full rebuild as long as
    `stale_keys_sql` names every row whose full-rebuild value differs. A run that stops between
    the two steps leaves rows missing, never wrong ones, and the next run appends them back.
    Used as `pre_hook="{{ delete_stale_rows('doc_id', some_stale_keys_macro(this)) }}"`. -#}
{% macro delete_stale_rows(key, stale_keys_sql) -%}
    {{ return(adapter.dispatch('delete_stale_rows', 'feedbackloop')(key, stale_keys_sql)) }}
{%- endmacro %}

{% macro default__delete_stale_rows(key, stale_keys_sql) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ key }} in (select {{ key }} from ({{ stale_keys_sql }}) as stale)
    {%- endif -%}
{%- endmacro %}

{#- On DuckDB the model is a view over its Delta table: list the keys in a scratch table, and the
    delta_lake plugin rewrites the Delta files that hold them (feedbackloop/transform/delta_plugin.py).
    The hook then renders to nothing. -#}
{% macro duckdb__delete_stale_rows(key, stale_keys_sql) -%}
    {%- if is_incremental() -%}
        {%- set keys = make_intermediate_relation(this.incorporate(type='table'), suffix='__dbt_stale') -%}
        {% call statement('stale_keys') -%}
            create or replace table {{ keys }} as select {{ key }} from ({{ stale_keys_sql }}) as stale
        {%- endcall %}
        {% do adapter.commit() %}
        {% do store_in_delta(keys, delta_location(this), 'delete:' ~ key, config) %}
        {% call statement('drop_stale_keys') -%}
            drop table if exists {{ keys }}
        {%- endcall %}
    {%- endif -%}
{%- endmacro %}
