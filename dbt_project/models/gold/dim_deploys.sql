with

deploys as (

    select * from {{ ref('stg_bronze__telemetry_events') }}
    where event_type = 'deploy'

),

final as (

    select
        -- ids
        event_id as deploy_id,
        deploy_sha,

        -- where
        product,
        app_version,
        platform,

        -- timestamps: a deploy is live until the next one of the same product on the same platform
        event_at as deployed_at,
        lead(event_at) over (partition by product, platform order by event_at, event_id) as superseded_at

    from deploys

)

select * from final
