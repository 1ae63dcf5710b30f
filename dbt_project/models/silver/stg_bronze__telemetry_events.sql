{{
    config(
        materialized='incremental',
        unique_key='event_id',
    )
}}

with

events as (

    select * from {{ source('bronze', 'telemetry_events') }}

),

new_events as (

    select * from events
    {% if is_incremental() %}
    where {{ recently_ingested('ingested_at', 'bronze.telemetry_events') }}
        and not exists (
            select 1 from {{ this }} as existing where existing.event_id = events.event_id
        )
    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (partition by event_id order by ingested_at, source_file, source_offset) as copy_rank
    from new_events

),

final as (

    select
        -- ids
        event_id,
        user_id,
        session_id,

        -- timestamps
        event_at,
        cast(event_at as date) as event_date,
        ingested_at,

        -- what
        event_type,
        value,
        deploy_sha,
        product,
        app_version,
        coalesce(lower(platform), 'unknown') as platform,

        -- lineage
        source_file,
        source_offset

    from ranked
    where copy_rank = 1

)

select * from final
