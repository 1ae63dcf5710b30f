{#- Which silver rows count. A source record re-exported with new text is a new version and only
    the latest one counts; among latest versions, exact duplicates (same duplicate_key) collapse
    onto the earliest copy, which every copy points at. Cheap columns only, so it rebuilds fast. -#}
with

feedback as (

    select
        doc_id,
        source_system,
        source_record_id,
        duplicate_key,
        event_at,
        ingested_at,
        source_file,
        source_offset
    from {{ ref('stg_bronze__feedback') }}

),

versions as (

    select
        *,
        row_number() over (
            partition by source_system, source_record_id
            order by ingested_at desc, source_file desc, source_offset desc
        ) = 1 as is_latest_version

    from feedback

),

grouped as (

    select
        doc_id,
        is_latest_version,
        case when is_latest_version then first_value(doc_id) over (
            partition by is_latest_version, duplicate_key order by event_at, doc_id
            rows between unbounded preceding and unbounded following
        ) end as latest_kept_doc_id,
        count(*) over (partition by is_latest_version, duplicate_key) as group_size,
        first_value(doc_id) over (
            partition by source_system, source_record_id
            order by ingested_at desc, source_file desc, source_offset desc
            rows between unbounded preceding and unbounded following
        ) as latest_version_doc_id

    from versions

),

final as (

    select
        -- ids
        grouped.doc_id,
        -- a superseded version points where its latest version points: the copy that is kept
        coalesce(grouped.latest_kept_doc_id, latest.latest_kept_doc_id) as kept_doc_id,

        -- facts
        grouped.is_latest_version,
        coalesce(grouped.doc_id = grouped.latest_kept_doc_id, false) as is_kept,
        case when grouped.is_latest_version then grouped.group_size else 0 end as copies

    from grouped
    left join grouped as latest
        on grouped.latest_version_doc_id = latest.doc_id

)

select * from final
