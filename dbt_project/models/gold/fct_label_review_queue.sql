{#- One row per feedback item waiting for a human: a model label that needs review, or a review
    request from another stage, with nothing reviewed since. The reason says why it is here. -#}
with

feedback as (

    select * from {{ ref('fct_feedback') }}

),

labels as (

    select * from {{ ref('int_feedback_labels__latest') }}

),

reviews as (

    select * from {{ ref('int_feedback_label_reviews__latest') }}

),

requests as (

    select * from {{ source('silver', 'feedback_review_requests') }}

),

label_items as (

    select
        doc_id,
        review_reason,
        'label' as queued_by,
        labeled_at as queued_at
    from labels
    where status = 'needs_review'

),

request_items as (

    select
        doc_id,
        review_reason,
        requested_by as queued_by,
        requested_at as queued_at
    from requests

),

candidates as (

    select * from label_items
    union all
    select * from request_items

),

open_items as (

    select candidates.*
    from candidates
    left join reviews
        on candidates.doc_id = reviews.doc_id
    where reviews.reviewed_at is null or reviews.reviewed_at < candidates.queued_at

),

ranked as (

    select
        *,
        row_number() over (
            partition by doc_id
            order by
                case review_reason
                    when 'invalid_output' then 1
                    when 'conflict' then 2
                    when 'high_impact' then 3
                    when 'low_confidence' then 4
                    else 5
                end,
                queued_at desc
        ) as priority

    from open_items

),

final as (

    select
        -- ids
        ranked.doc_id,
        labels.label_id,

        -- why
        ranked.review_reason,
        ranked.queued_by,
        ranked.queued_at,

        -- what the model proposes
        labels.category as proposed_category,
        labels.sublabel as proposed_sublabel,
        labels.severity as proposed_severity,
        labels.sentiment_label as proposed_sentiment_label,
        labels.recommended_action as proposed_recommended_action,
        labels.confidence,
        labels.summary,
        labels.evidence,
        labels.error,
        labels.tier,

        -- the feedback
        feedback.redacted_text,
        feedback.source_system,
        feedback.event_at,
        feedback.rating

    from ranked
    inner join feedback
        on ranked.doc_id = feedback.doc_id
    left join labels
        on ranked.doc_id = labels.doc_id
    where ranked.priority = 1

)

select * from final
