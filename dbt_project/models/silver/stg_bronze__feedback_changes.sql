with

changes as (

    select * from {{ source('bronze', 'feedback_changes') }}

),

copies as (

    select
        *,
        -- bronze dedupes change_id at ingest; this guards against two writers racing
        row_number() over (partition by change_id order by ingested_at, source_file, source_offset) as copy_rank

    from changes

),

final as (

    select
        -- ids
        change_id,
        source_system,
        source_record_id,
        doc_id,

        -- what changed
        op,
        op = 'delete' as is_delete,
        resolution_status,

        -- ordering: the source's commit (or update) time, then its log position
        changed_at,
        lsn,
        commit_lsn,
        txn_id,

        -- lineage
        ingested_at,
        source_file,
        source_offset

    from copies
    where copy_rank = 1

)

select * from final
