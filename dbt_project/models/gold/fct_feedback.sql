{#- Incremental: a pre-hook deletes the rows whose inputs changed (fct_feedback_stale_doc_ids), then
    the rows of every kept doc not (or no longer) in gold are appended. Equal to a full rebuild. -#}
{{
    config(
        materialized='incremental',
        unique_key='doc_id',
        pre_hook="{{ delete_stale_rows('doc_id', fct_feedback_stale_doc_ids(this)) }}",
    )
}}

{%- set changed = changed_since_last_build() %}

with

feedback as (

    select * from {{ changed_feedback_rows(changed) if changed else ref('stg_bronze__feedback') }} as silver
    {% if is_incremental() %}
    -- after the pre-hook, a doc in gold has its current row there
    where not exists (select 1 from {{ this }} as gold where gold.doc_id = silver.doc_id)
    {%- if changed %}
        -- and a doc missing from gold is new, had its row removed, or lost it elsewhere: either way its keys changed
        and silver.doc_id in ({{ changed_doc_ids(changed, ref('stg_bronze__feedback')) }})
    {%- endif %}
    {% endif %}

),

duplicates as (

    select * from {{ ref('int_feedback__deduplicated') }}

),

enrichment as (

    select * from {{ source('silver', 'feedback_enrichment') }}

),

latest_changes as (

    select * from {{ ref('int_feedback__latest_changes') }}

),

redacted as (

    select * from {{ source('silver', 'feedback_redacted') }}

),

final as (

    select
        -- ids
        feedback.doc_id,
        feedback.source_system,
        feedback.source_record_id,
        feedback.text_hash,

        -- timestamps
        feedback.event_at,
        feedback.event_date,
        feedback.ingested_at,

        -- who
        feedback.account_id,
        feedback.user_id,
        feedback.session_id,

        -- where
        feedback.product,
        feedback.product_area,
        feedback.app_version,
        feedback.platform,
        feedback.device,
        feedback.locale,
        feedback.country,

        -- what
        feedback.channel,
        feedback.rating,
        -- a status-only update changes no text, so no new version: the change log has the current status
        coalesce(latest_changes.resolution_status, feedback.resolution_status) as resolution_status,
        -- text only ever reaches gold redacted (null until the redaction stage has seen the doc)
        redacted.redacted_text,
        redacted.redacted_agent_text,
        redacted.redacted_system_notes,
        redacted.pii_types,
        enrichment.language,
        enrichment.language_score,

        -- facts
        duplicates.copies as copies,
        feedback.is_text_truncated,
        feedback.is_event_at_inferred

    from feedback
    inner join duplicates
        on feedback.doc_id = duplicates.doc_id
    left join enrichment
        on feedback.doc_id = enrichment.doc_id
    left join latest_changes
        on feedback.source_system = latest_changes.source_system
        and feedback.source_record_id = latest_changes.source_record_id
    left join redacted
        on feedback.doc_id = redacted.doc_id
    where duplicates.is_kept

)

select * from final
