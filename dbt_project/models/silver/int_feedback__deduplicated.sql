{#- Exact duplicates: the same person (or, without a user id, the same source on the same day)
    saying exactly the same thing. The earliest copy is kept; every copy points at it. -#}
with

feedback as (

    select * from {{ ref('stg_bronze__feedback') }}
    where is_latest_version

),

keyed as (

    select
        doc_id,
        event_at,
        case
            when clean_text is null then doc_id
            else {{ surrogate_key([
                'source_system',
                'coalesce(user_id, cast(event_date as ' ~ dbt.type_string() ~ '))',
                'lower(clean_text)',
            ]) }}
        end as duplicate_key

    from feedback

),

grouped as (

    select
        doc_id,
        duplicate_key,
        first_value(doc_id) over (
            partition by duplicate_key order by event_at, doc_id
            rows between unbounded preceding and unbounded following
        ) as kept_doc_id,
        count(*) over (partition by duplicate_key) as copies

    from keyed

),

final as (

    select
        -- ids
        doc_id,
        kept_doc_id,
        duplicate_key,

        -- facts
        doc_id <> kept_doc_id as is_duplicate,
        copies

    from grouped

)

select * from final
