{#-
  On DuckDB, `table` writes a Delta table into the lake and leaves a view over it in the warehouse,
  so models say `materialized: table` in both worlds and Databricks reads the very same files.
  The model is computed into a staging table, committed, then streamed to Delta by the
  `delta_lake` plugin (feedbackloop/transform/delta_plugin.py).
-#}
{% materialization table, adapter='duckdb' %}
  {%- set location = delta_location(this) -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set staging = make_intermediate_relation(this.incorporate(type='table'), suffix='__dbt_stage') -%}
  {%- set existing = load_cached_relation(this) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {{ drop_relation_if_exists(load_cached_relation(staging)) }}

  {% call statement('stage') -%}
    {{ create_table_as(False, staging, compiled_code) }}
  {%- endcall %}
  {{ adapter.commit() }}

  {% do store_relation('delta_lake', staging, location, 'delta:overwrite', config) %}

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
{% endmaterialization %}
