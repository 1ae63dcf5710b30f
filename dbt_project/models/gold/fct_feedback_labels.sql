{#- One row per labelled feedback item: the model's decision with any human correction applied.
    Human values win over model values field by field; the model's values stay alongside. -#}
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

final as (

    select
        -- ids
        labels.doc_id,
        labels.label_id,
        reviews.review_id,

        -- the decision (human over model)
        coalesce(reviews.category, labels.category) as category,
        case when reviews.category is not null and reviews.category <> labels.category
            then reviews.sublabel else coalesce(reviews.sublabel, labels.sublabel) end as sublabel,
        coalesce(reviews.severity, labels.severity) as severity,
        coalesce(reviews.sentiment_label, labels.sentiment_label) as sentiment_label,
        labels.sentiment_score,
        coalesce(reviews.recommended_action, labels.recommended_action) as recommended_action,
        labels.root_cause,
        labels.product_area as label_product_area,
        labels.confidence,
        labels.evidence,
        labels.explanation,
        labels.summary,

        -- provenance
        case when reviews.review_id is null then 'model' else 'human' end as label_source,
        case
            when reviews.review_id is not null then 'reviewed'
            else labels.status
        end as label_status,
        labels.review_reason,
        reviews.review_id is not null and reviews.action = 'correct' as is_corrected,
        reviews.reviewer,
        reviews.reviewed_at,
        labels.category as model_category,
        labels.severity as model_severity,
        labels.sentiment_label as model_sentiment_label,
        labels.recommended_action as model_recommended_action,
        labels.tier,
        labels.flags,
        labels.error,

        -- audit
        labels.taxonomy_version,
        labels.prompt_version,
        labels.model_id,
        labels.temperature,
        labels.endpoint_kind,
        labels.label_run_id,
        labels.code_version,
        labels.latency_ms,
        labels.prompt_tokens,
        labels.completion_tokens,
        labels.cost_usd,
        labels.is_cache_hit,
        labels.labeled_at,

        -- feedback context
        feedback.source_system,
        feedback.event_at,
        feedback.event_date,
        feedback.product,
        feedback.product_area,
        feedback.platform,
        feedback.app_version,
        feedback.rating

    from labels
    inner join feedback
        on labels.doc_id = feedback.doc_id
    left join reviews
        on labels.doc_id = reviews.doc_id

)

select * from final
