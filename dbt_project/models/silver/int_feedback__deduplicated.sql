{#- Which silver rows count. A source record re-exported with new text is a new version and only
    the latest one counts: for records that come with a change log (CDC, Debezium, support-tool
    webhooks) the latest by the source's own clock, otherwise the latest ingested. A deleted record
    has no version that counts. Among latest versions, exact duplicates (same duplicate_key) collapse
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

latest_changes as (

    select * from {{ ref('int_feedback__latest_changes') }}

),

versions as (

    select
        feedback.*,
        coalesce(latest_changes.is_deleted, false) as is_deleted,
        latest_changes.deleted_at,
        case
            when latest_changes.source_record_id is not null
                then coalesce(feedback.doc_id = latest_changes.current_doc_id, false)
            else row_number() over (
                partition by feedback.source_system, feedback.source_record_id
                order by feedback.ingested_at desc, feedback.source_file desc, feedback.source_offset desc
            ) = 1
        end as is_latest_version

    from feedback
    left join latest_changes
        on feedback.source_system = latest_changes.source_system
        and feedback.source_record_id = latest_changes.source_record_id

),

grouped as (

    select
        doc_id,
        is_latest_version,
        is_deleted,
        deleted_at,
        case when is_latest_version then first_value(doc_id) over (
            partition by is_latest_version, duplicate_key order by event_at, doc_id
            rows between unbounded preceding and unbounded following
        ) end as latest_kept_doc_id,
        count(*) over (partition by is_latest_version, duplicate_key) as group_size,
        first_value(doc_id) over (
            partition by source_system, source_record_id
            order by is_latest_version desc, ingested_at desc, source_file desc, source_offset desc
            rows between unbounded preceding and unbounded following
        ) as latest_version_doc_id

    from versions

),

final as (

    select
        -- ids
        grouped.doc_id,
        -- a superseded version points where its latest version points: the copy that is kept
        coalesce(grouped.latest_kept_doc_id, latest.latest_kept_doc_id, grouped.latest_version_doc_id) as kept_doc_id,

        -- facts
        grouped.is_latest_version,
        coalesce(grouped.doc_id = grouped.latest_kept_doc_id, false) as is_kept,
        case when grouped.is_latest_version then grouped.group_size else 0 end as copies,
        grouped.is_deleted,

        -- timestamps
        grouped.deleted_at

    from grouped
    left join grouped as latest
        on grouped.latest_version_doc_id = latest.doc_id

)

select * from final
