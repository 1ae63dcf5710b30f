{{
    config(
        materialized='incremental',
        unique_key='doc_id',
    )
}}

with

feedback as (

    select * from {{ source('bronze', 'feedback') }}

),

new_feedback as (

    select * from feedback
    {% if is_incremental() %}
    -- bronze is append-only, so anything not yet in silver is new; cleaning runs once per doc
    where {{ recently_ingested('ingested_at', 'bronze.feedback') }}
        and not exists (
            select 1 from {{ this }} as existing where existing.doc_id = feedback.doc_id
        )
    {% endif %}

),

copies as (

    select
        *,
        -- bronze dedupes doc_id at ingest; this guards against two writers racing
        row_number() over (
            partition by doc_id
            order by ingested_at, source_file, source_offset
        ) as copy_rank

    from new_feedback

),

cleaned as (

    select
        *,
        {{ clean_text('customer_text') }} as clean_text
    from copies
    where copy_rank = 1

),

final as (

    select
        -- ids
        doc_id,
        source_system,
        source_record_id,
        text_hash,
        -- exact duplicates: the same person (or, without a user id, the same source on the same
        -- day) saying exactly the same thing
        case
            when clean_text is null then doc_id
            else {{ surrogate_key([
                'source_system',
                'coalesce(user_id, cast(cast(event_at as date) as ' ~ dbt.type_string() ~ '))',
                'lower(clean_text)',
            ]) }}
        end as duplicate_key,

        -- timestamps (bronze stores UTC; the date is the UTC calendar day)
        event_at,
        cast(event_at as date) as event_date,
        ingested_at,

        -- who
        account_id,
        user_id,
        session_id,

        -- where
        product,
        product_area,
        app_version,
        coalesce(lower(platform), 'unknown') as platform,
        device,
        locale,
        upper(country) as country,

        -- what
        channel,
        rating,
        clean_text,
        {{ clean_text('agent_text') }} as clean_agent_text,
        {{ clean_text('system_notes') }} as clean_system_notes,
        resolution_status,

        -- flags
        is_text_truncated,
        is_event_at_inferred,

        -- lineage
        source_file,
        source_offset,
        ingest_run_id

    from cleaned

)

select * from final
