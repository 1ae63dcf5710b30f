with

feedback as (

    select * from {{ ref('fct_feedback') }}

),

daily as (

    select
        event_date,
        source_system,
        product,
        product_area,
        platform,
        app_version,
        count(*) as feedback_count,
        sum(case when rating <= 2 then 1 else 0 end) as negative_rating_count,
        sum(case when rating >= 4 then 1 else 0 end) as positive_rating_count,
        avg(rating) as avg_rating,
        sum(copies) as copies_count

    from feedback
    group by event_date, source_system, product, product_area, platform, app_version

),

final as (

    select
        {{ surrogate_key(['event_date', 'source_system', 'product', 'product_area', 'platform', 'app_version']) }}
            as daily_volume_id,
        *
    from daily

)

select * from final
