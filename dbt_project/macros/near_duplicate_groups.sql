{#- Every gold doc with the canonical doc it is a near duplicate of, as a full rebuild of
    gold.fct_feedback_near_duplicates computes it. Shared by the model (which appends the rows it
    lacks) and by its stale-row check (fct_feedback_near_duplicates_stale_doc_ids), so the two
    cannot disagree about what a full rebuild would hold. -#}
{% macro near_duplicate_groups() -%}
    with

    -- the docs in gold.fct_feedback, read from where fct_feedback gets them, so the two models build side by side
    feedback as (

        select doc_id from {{ ref('int_feedback__deduplicated') }} where is_kept

    ),

    links as (

        select * from {{ source('silver', 'feedback_near_duplicate_links') }}

    ),

    resolved as (

        select
            feedback.doc_id,
            -- a doc without a vector, or whose canonical has left gold, stands for itself
            coalesce(canonical.doc_id, feedback.doc_id) as canonical_doc_id,
            case when canonical.doc_id is not null then links.similarity else 1.0 end as similarity_to_canonical

        from feedback
        left join links
            on feedback.doc_id = links.doc_id
        left join feedback as canonical
            on links.canonical_doc_id = canonical.doc_id

    )

    select
        -- ids
        doc_id,
        canonical_doc_id,

        -- facts
        cast(similarity_to_canonical as float) as similarity_to_canonical,
        doc_id != canonical_doc_id as is_near_duplicate,
        case
            when doc_id = canonical_doc_id
                then count(*) over (partition by canonical_doc_id) - 1
            else 0
        end as near_duplicate_count

    from resolved
{%- endmacro %}
