with

feedback as (

    select * from {{ source('bronze', 'feedback') }}

),

copies as (

    select
        *,
        -- bronze dedupes doc_id at ingest; this guards against two writers racing
        row_number() over (
            partition by doc_id
            order by ingested_at, source_file, source_offset
        ) as copy_rank

    from feedback

),

versions as (

    select
        *,
        -- a ticket re-exported with new comments is a new version of the same source record
        row_number() over (
            partition by source_system, source_record_id
            order by ingested_at desc, source_file desc, source_offset desc
        ) as version_rank

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
        {{ clean_text('customer_text') }} as clean_text,
        {{ clean_text('agent_text') }} as clean_agent_text,
        {{ clean_text('system_notes') }} as clean_system_notes,
        resolution_status,

        -- flags
        is_text_truncated,
        is_event_at_inferred,
        version_rank = 1 as is_latest_version,

        -- lineage
        source_file,
        source_offset,
        ingest_run_id

    from versions

)

select * from final
