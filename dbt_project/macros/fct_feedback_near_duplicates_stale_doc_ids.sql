{#- The gold.fct_feedback_near_duplicates rows an incremental run must replace or remove: a doc
    that left gold, and a doc whose group moved (a new link, a canonical that left gold, a near
    duplicate joining its canonical's count). Compared column by column with a full rebuild's rows,
    null-safe. In a run that links nothing new, nothing is stale and the model only appends.
    When the Delta log tells which docs changed since gold's last build, only the rows those can
    move are compared (near_duplicate_affected_docs). -#}
{% macro fct_feedback_near_duplicates_stale_doc_ids(gold_table) -%}
    {%- set changed = changed_since_last_build() -%}
    select gold.doc_id
    from {{ gold_table }} as gold
    left join ({{ near_duplicate_groups(changed) }}) as groups
        on gold.doc_id = groups.doc_id
    where {% if changed %}gold.doc_id in ({{ near_duplicate_affected_docs(changed) }}) and ({% endif %}
        groups.doc_id is null
        or gold.canonical_doc_id is distinct from groups.canonical_doc_id
        or gold.similarity_to_canonical is distinct from groups.similarity_to_canonical
        or gold.is_near_duplicate is distinct from groups.is_near_duplicate
        or gold.near_duplicate_count is distinct from groups.near_duplicate_count
    {% if changed %}){% endif %}
{%- endmacro %}
