{#-
  On DuckDB, models are computed in DuckDB and stored as Delta tables in the lake, with a view over
  each in the warehouse: `table` rewrites its Delta table, `incremental` appends the rows the model
  selects as new (see is_incremental). Models say `materialized: table|incremental` in both worlds;
  Databricks uses its native materializations on the very same SQL.
-#}
{% materialization table, adapter='duckdb' %}
  {{ return(materialize_as_delta('overwrite', compiled_code, pre_hooks, post_hooks)) }}
{% endmaterialization %}

{% materialization incremental, adapter='duckdb' %}
  {%- set existing = load_cached_relation(this) -%}
  {%- set incremental = existing is not none and existing.type == 'view' and not should_full_refresh() -%}
  {{ return(materialize_as_delta('append' if incremental else 'overwrite', compiled_code, pre_hooks, post_hooks)) }}
{% endmaterialization %}

{#- Stage the model as a view, commit, and let the `delta_lake` plugin stream its rows into Delta
    (feedbackloop/transform/delta_plugin.py); then point the warehouse view at the Delta table.
    A view, not a table: a staged table is written into the warehouse file, only to be read back
    and dropped (its commit alone took 0.4 s of a 1% rerun's silver build). -#}
{% macro materialize_as_delta(write_mode, code, pre_hooks, post_hooks) %}
  {%- set location = delta_location(this) -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set staging = make_intermediate_relation(this.incorporate(type='view'), suffix='__dbt_stage') -%}
  {%- set existing = load_cached_relation(this) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {{ drop_relation_if_exists(load_cached_relation(staging)) }}

  {% call statement('stage') -%}
    {{ create_view_as(staging, code) }}
  {%- endcall %}
  {{ adapter.commit() }}

  {% do store_in_delta(staging, location, write_mode, config) %}

  {% if existing is not none and existing.type != 'view' %}
    {{ drop_relation_if_exists(existing) }}
  {% endif %}
  {% call statement('main') -%}
    create or replace view {{ target_relation }} as select * from delta_scan('{{ location }}')
  {%- endcall %}
  {{ drop_relation_if_exists(staging) }}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmacro %}
