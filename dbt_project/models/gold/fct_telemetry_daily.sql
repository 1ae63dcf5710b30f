with

events as (

    select * from {{ ref('stg_bronze__telemetry_events') }}

),

daily as (

    select
        event_date,
        event_type,
        product,
        platform,
        app_version,
        count(*) as event_count,
        count(distinct user_id) as user_count,
        {{ percentile('value', 0.5) }} as p50_value,
        {{ percentile('value', 0.95) }} as p95_value

    from events
    group by event_date, event_type, product, platform, app_version

),

final as (

    select
        {{ surrogate_key(['event_date', 'event_type', 'product', 'platform', 'app_version']) }} as telemetry_daily_id,
        *
    from daily

)

select * from final
