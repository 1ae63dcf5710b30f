{#- On an incremental gold build run by feedbackloop: the keys of every row that the bounded models'
    inputs, or their own tables, changed since gold's last successful build, read off the Delta log
    (feedbackloop/transform/changes.py). A dict of relations: `docs` (doc_id), `records`
    (source_system, source_record_id), and `feedback`, the stg_bronze__feedback rows added since (none
    unless silver only appended); none when that is unknown, and then a model compares every row. -#}
{% macro changed_since_last_build() -%}
    {%- if not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.dispatch('changed_since_last_build', 'feedbackloop')()) }}
{%- endmacro %}

{#- A Databricks job cannot see the local state directory: its models compare every row. -#}
{% macro default__changed_since_last_build() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro duckdb__changed_since_last_build() -%}
    {%- set docs = state_file('changed_doc_ids.parquet') -%}
    {%- if docs is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = state_file('changed_feedback_rows.parquet') -%}
    {{ return({'docs': "read_parquet('" ~ docs ~ "')",
               'records': "read_parquet('" ~ state_file('changed_records.parquet') ~ "')",
               'feedback': ("read_parquet('" ~ rows ~ "')") if rows else none}) }}
{%- endmacro %}

{#- The doc ids whose rows changed: the changed docs, and the docs of the changed records, found in
    `docs_relation` (a relation with doc_id, source_system and source_record_id). As a subquery, so
    that each input is cut down to these docs before it is joined. -#}
{% macro changed_doc_ids(changed, docs_relation) -%}
    select doc_id from {{ changed.docs }}
    union
    select docs.doc_id
    from {{ docs_relation }} as docs
    inner join {{ changed.records }} as changed_records
        on docs.source_system = changed_records.source_system
        and docs.source_record_id = changed_records.source_record_id
{%- endmacro %}

{#- Where fct_feedback reads the silver rows of the changed docs: the rows silver appended since the
    last gold build when they hold every changed doc (a run that only brought new docs), so that the
    model does not scan all of silver for them; otherwise silver itself. Decided when the model runs. -#}
{% macro changed_feedback_rows(changed) -%}
    {%- if changed and changed.feedback -%}
        {%- set outside = run_query('select count(*) from (' ~ changed_doc_ids(changed, ref('stg_bronze__feedback'))
                                    ~ ') as changed_docs where doc_id not in (select doc_id from '
                                    ~ changed.feedback ~ ')').columns[0].values()[0] -%}
        {%- if outside == 0 -%}
            {{ return(changed.feedback) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(ref('stg_bronze__feedback')) }}
{%- endmacro %}

{#- On an incremental silver build run by feedbackloop: the bronze rows appended since silver's last
    build, when nothing else wrote silver or bronze since (feedbackloop/transform/silver_changes.py).
    A dict of relations: `docs` (doc_id, source_system, source_record_id) of the new feedback rows,
    and `records` (source_system, source_record_id) of those and of the new change-log rows; none
    when that is unknown, and then int_feedback__deduplicated compares every row. -#}
{% macro silver_changes() -%}
    {%- if not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.dispatch('silver_changes', 'feedbackloop')()) }}
{%- endmacro %}

{#- A Databricks job cannot see the local state directory: its models compare every row. -#}
{% macro default__silver_changes() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro duckdb__silver_changes() -%}
    {%- set docs = state_file('silver_new_docs.parquet') -%}
    {%- set records = state_file('silver_changed_records.parquet') -%}
    {%- if docs is none or records is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return({'docs': "read_parquet('" ~ docs ~ "')", 'records': "read_parquet('" ~ records ~ "')"}) }}
{%- endmacro %}
