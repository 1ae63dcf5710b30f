{#- Which silver rows count. A source record re-exported with new text is a new version and only
    the latest one counts: for records that come with a change log (CDC, Debezium, support-tool
    webhooks) the latest by the source's own clock, otherwise the latest ingested. A deleted record
    has no version that counts. Among latest versions, exact duplicates (same duplicate_key) collapse
    onto the earliest copy, which every copy points at.
    Incremental: a pre-hook deletes the rows a full rebuild could now compute differently
    (int_feedback__deduplicated_stale_doc_ids), and the docs then missing are computed within their
    scope: every version of their records, and every record sharing a duplicate_key with them.
    Equal to a full rebuild (tests/test_gold_incremental.py). -#}
{{
    config(
        materialized='incremental',
        unique_key='doc_id',
        pre_hook="{{ delete_stale_rows('doc_id', int_feedback__deduplicated_stale_doc_ids(this)) }}",
    )
}}

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

{% if is_incremental() %}
-- after the pre-hook, a doc missing from this table is new or has a row to recompute
pending as (

    select doc_id, source_system, source_record_id
    from feedback
    where not exists (select 1 from {{ this }} as existing where existing.doc_id = feedback.doc_id)

),

-- a doc's row depends on every version of its record and, for a latest version, on its
-- duplicate_key group; a group member depends on its own record's versions in turn
pending_keys as (

    select distinct feedback.duplicate_key
    from feedback
    inner join (select distinct source_system, source_record_id from pending) as records
        on feedback.source_system = records.source_system
        and feedback.source_record_id = records.source_record_id

),

scope as (

    select distinct feedback.source_system, feedback.source_record_id
    from feedback
    inner join pending_keys
        on feedback.duplicate_key = pending_keys.duplicate_key

),

in_scope as (

    select feedback.*
    from feedback
    inner join scope
        on feedback.source_system = scope.source_system
        and feedback.source_record_id = scope.source_record_id

),
{% else %}
in_scope as (

    select * from feedback

),
{% endif %}

versions as (

    select
        in_scope.*,
        coalesce(latest_changes.is_deleted, false) as is_deleted,
        latest_changes.deleted_at,
        case
            when latest_changes.source_record_id is not null
                then coalesce(in_scope.doc_id = latest_changes.current_doc_id, false)
            else row_number() over (
                partition by in_scope.source_system, in_scope.source_record_id
                order by in_scope.ingested_at desc, in_scope.source_file desc, in_scope.source_offset desc
            ) = 1
        end as is_latest_version

    from in_scope
    left join latest_changes
        on in_scope.source_system = latest_changes.source_system
        and in_scope.source_record_id = latest_changes.source_record_id

),

grouped as (

    select
        doc_id,
        source_system,
        source_record_id,
        duplicate_key,
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
        -- the keys an incremental run finds a doc's dependents by
        grouped.source_system,
        grouped.source_record_id,
        grouped.duplicate_key,

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
    {% if is_incremental() %}
    where grouped.doc_id in (select doc_id from pending)
    {% endif %}

)

select * from final
