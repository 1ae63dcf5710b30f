{#- The gold.fct_feedback_near_duplicates rows an incremental run must replace or remove: a doc
    that left gold, and a doc whose group moved (a new link, a canonical that left gold, a near
    duplicate joining its canonical's count). Compared column by column with a full rebuild's rows,
    null-safe. In a run that links nothing new, nothing is stale and the model only appends. -#}
{% macro fct_feedback_near_duplicates_stale_doc_ids(gold_table) -%}
    select gold.doc_id
    from {{ gold_table }} as gold
    left join ({{ near_duplicate_groups() }}) as groups
        on gold.doc_id = groups.doc_id
    where groups.doc_id is null
        or gold.canonical_doc_id is distinct from groups.canonical_doc_id
        or gold.similarity_to_canonical is distinct from groups.similarity_to_canonical
        or gold.is_near_duplicate is distinct from groups.is_near_duplicate
        or gold.near_duplicate_count is distinct from groups.near_duplicate_count
{%- endmacro %}
