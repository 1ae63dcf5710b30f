{#- The gold.fct_feedback rows an incremental run must replace or remove: every column a full
    rebuild could now compute differently for a doc_id already in gold. The columns that come from
    stg_bronze__feedback never change under a doc_id (silver only appends, and the doc_id hashes the
    text); everything else is compared with its input, null-safe:
      - int_feedback__deduplicated, recomputed wherever a silver run moved it: a doc that stopped
        counting (a newer version, a deletion at the source, an erasure, which removes its row there
        too) goes; `copies` moves when a duplicate arrives;
      - int_feedback__latest_changes: a status-only update changes `resolution_status`; only records
        with a change log can have moved, so only their docs look their silver status up;
      - the Python-written silver sources: enrichment and redaction of a doc can arrive after it
        reached gold, or be erased.
    A change to the model's SQL itself calls for `--full-refresh` (a changed dbt project gets one).
    When the Delta log tells which docs and records changed since gold's last build, only their rows
    are compared, and only their rows are read from each doc-keyed input (changed_since_last_build).
    When every one of them is a doc silver added since then, gold has no row of any of them, and none
    is read at all. -#}
{% macro fct_feedback_stale_doc_ids(gold_table) -%}
    {%- set changed = changed_since_last_build() -%}
    {%- if changed and changed.feedback and changed_feedback_rows(changed) == changed.feedback -%}
    {#- Every changed doc is a doc silver added since gold's last build (a run that brought only new
        docs), so gold holds no row of any of them: nothing is stale, and the comparison below would
        read every row of gold and of three inputs to find none. -#}
    select doc_id from {{ gold_table }} where false
    {%- else -%}
    {%- set only_changed = ('where doc_id in (' ~ changed_doc_ids(changed, gold_table) ~ ')') if changed else '' -%}
    select gold.doc_id
    from (select * from {{ gold_table }} {{ only_changed }}) as gold
    left join (select * from {{ ref('int_feedback__deduplicated') }} {{ only_changed }}) as duplicates
        on gold.doc_id = duplicates.doc_id
    left join {{ ref('int_feedback__latest_changes') }} as latest_changes
        on gold.source_system = latest_changes.source_system
        and gold.source_record_id = latest_changes.source_record_id
    left join (
        select feedback.doc_id, feedback.resolution_status
        from {{ ref('stg_bronze__feedback') }} as feedback
        inner join {{ ref('int_feedback__latest_changes') }} as changed
            on feedback.source_system = changed.source_system
            and feedback.source_record_id = changed.source_record_id
    ) as feedback
        on gold.doc_id = feedback.doc_id
    left join (select * from {{ source('silver', 'feedback_enrichment') }} {{ only_changed }}) as enrichment
        on gold.doc_id = enrichment.doc_id
    left join (select * from {{ source('silver', 'feedback_redacted') }} {{ only_changed }}) as redacted
        on gold.doc_id = redacted.doc_id
    where not coalesce(duplicates.is_kept, false)
        or gold.copies is distinct from duplicates.copies
        or (
            latest_changes.source_record_id is not null
            and gold.resolution_status is distinct from coalesce(latest_changes.resolution_status, feedback.resolution_status)
        )
        or gold.language is distinct from enrichment.language
        or gold.language_score is distinct from enrichment.language_score
        or gold.redacted_text is distinct from redacted.redacted_text
        or gold.redacted_agent_text is distinct from redacted.redacted_agent_text
        or gold.redacted_system_notes is distinct from redacted.redacted_system_notes
        or gold.pii_types is distinct from redacted.pii_types
    {%- endif -%}
{%- endmacro %}
