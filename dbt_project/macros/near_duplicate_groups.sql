{#- Every gold doc with the canonical doc it is a near duplicate of, as a full rebuild of
    gold.fct_feedback_near_duplicates computes it. Shared by the model (which appends the rows it
    lacks) and by its stale-row check (fct_feedback_near_duplicates_stale_doc_ids), so the two
    cannot disagree about what a full rebuild would hold.
    Given `changed` (changed_since_last_build), only the rows those changes can move: a changed doc,
    the canonical its link points at (its count moves), and the docs linked to it (their canonical
    may have come or gone). The counts are then taken over every doc linked to one of those. -#}
{% macro near_duplicate_groups(changed=none) -%}
    with

    -- the docs in gold.fct_feedback, read from where fct_feedback gets them, so the two models build side by side
    feedback as (

        select doc_id from {{ ref('int_feedback__deduplicated') }} where is_kept

    ),

    links as (

        select * from {{ source('silver', 'feedback_near_duplicate_links') }}

    ),

    {% if changed %}
    affected as (

        {{ near_duplicate_affected_docs(changed) }}

    ),

    -- every doc that can count towards an affected canonical
    in_scope as (

        select feedback.doc_id
        from feedback
        where feedback.doc_id in (
            select doc_id from affected
            union
            select links.doc_id from links inner join affected on links.canonical_doc_id = affected.doc_id
        )

    ),
    {% else %}
    in_scope as (

        select doc_id from feedback

    ),
    {% endif %}

    resolved as (

        select
            in_scope.doc_id,
            -- a doc without a vector, or whose canonical has left gold, stands for itself
            coalesce(canonical.doc_id, in_scope.doc_id) as canonical_doc_id,
            case when canonical.doc_id is not null then links.similarity else 1.0 end as similarity_to_canonical

        from in_scope
        left join links
            on in_scope.doc_id = links.doc_id
        left join feedback as canonical
            on links.canonical_doc_id = canonical.doc_id

    ),

    groups as (

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

    )

    select * from groups
    {% if changed %}
    where doc_id in (select doc_id from affected)
    {% endif %}
{%- endmacro %}


{#- The docs whose gold.fct_feedback_near_duplicates row the `changed` docs can move: those docs, the
    canonical each links to, and the docs linked to each. -#}
{% macro near_duplicate_affected_docs(changed) -%}
    select doc_id from {{ changed.docs }}
    union
    select links.canonical_doc_id
    from {{ source('silver', 'feedback_near_duplicate_links') }} as links
    inner join {{ changed.docs }} as changed_docs
        on links.doc_id = changed_docs.doc_id
    union
    select links.doc_id
    from {{ source('silver', 'feedback_near_duplicate_links') }} as links
    inner join {{ changed.docs }} as changed_docs
        on links.canonical_doc_id = changed_docs.doc_id
{%- endmacro %}
