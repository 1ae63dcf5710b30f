{#- Incremental: a pre-hook deletes the rows a full rebuild would now compute differently, or not at
    all (fct_feedback_near_duplicates_stale_doc_ids), then the rows of every gold doc missing here
    are appended. A run with a few new docs writes those, instead of rewriting a row per gold doc.
    When the Delta log tells which docs changed, only the rows they can move are computed: a row
    missing here is one of those (new, removed by the pre-hook, or lost elsewhere). -#}
{{
    config(
        materialized='incremental',
        unique_key='doc_id',
        pre_hook="{{ delete_stale_rows('doc_id', fct_feedback_near_duplicates_stale_doc_ids(this)) }}",
    )
}}

with

groups as (

    {{ near_duplicate_groups(changed_since_last_build()) }}

),

final as (

    select * from groups
    {% if is_incremental() %}
    -- after the pre-hook, a doc still here has its current row here
    where not exists (select 1 from {{ this }} as gold where gold.doc_id = groups.doc_id)
    {% endif %}

)

select * from final
