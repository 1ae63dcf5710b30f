{#- Where each captured record stands now: its latest change by the source's own clock (commit time,
    then log position), however late or out of order the changes arrived. A delete wins until a
    later insert brings the record back. -#}
with

changes as (

    select * from {{ ref('stg_bronze__feedback_changes') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by source_system, source_record_id
            order by changed_at desc, lsn desc nulls last, ingested_at desc, source_offset desc
        ) as recency_rank,
        count(*) over (partition by source_system, source_record_id) as change_count

    from changes

),

final as (

    select
        -- ids
        {{ surrogate_key(['source_system', 'source_record_id']) }} as source_record_key,
        source_system,
        source_record_id,
        -- the version the record has now; null once deleted
        case when is_delete then null else doc_id end as current_doc_id,

        -- facts
        op as last_op,
        is_delete as is_deleted,
        resolution_status,
        change_count,

        -- timestamps
        changed_at as last_changed_at,
        case when is_delete then changed_at end as deleted_at,
        lsn as last_lsn

    from ranked
    where recency_rank = 1

)

select * from final
