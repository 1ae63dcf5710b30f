{#- The silver.int_feedback__deduplicated rows an incremental run must recompute: every doc of a
    record whose versions or change-log state moved, and every doc of a record that shares a
    duplicate_key with such a record (a copy joining or leaving a group moves `copies` and maybe
    the kept copy). A record moves when
      - a new version (a doc not yet in the table) arrives;
      - its change log disagrees with its rows (a new current version, a delete, a comeback);
      - an erasure took one of its docs: the erasure deletes rows from this table too, so that shows
        as a copy pointing at a kept doc that is gone, a group counting fewer copies than it says,
        or a record that is not deleted and has no latest version left.
    The model then computes the deleted docs again, within their scope.
    When bronze was only appended to since silver's last build, and nothing else wrote silver
    (silver_changes), the moved records are known up front: those of the new bronze rows. No
    erasure can then have taken a row, and the new docs are the only silver rows not stored, so
    the comparison of every row with its inputs is skipped. -#}
{% macro int_feedback__deduplicated_stale_doc_ids(dedup_table) -%}
    {%- set changed = silver_changes() -%}
    with

    {% if changed -%}
    -- the new docs are the only silver rows not stored
    feedback as (

        select doc_id, source_system, source_record_id, duplicate_key
        from {{ ref('stg_bronze__feedback') }}
        where doc_id in (select doc_id from {{ changed.docs }})

    ),

    stored as (

        select doc_id, source_system, source_record_id, duplicate_key from {{ dedup_table }}

    ),

    moved_records as (

        select source_system, source_record_id from {{ changed.records }}

    ),
    {%- else -%}
    feedback as (

        select doc_id, source_system, source_record_id, duplicate_key from {{ ref('stg_bronze__feedback') }}

    ),

    stored as (

        select * from {{ dedup_table }}

    ),

    latest_changes as (

        select * from {{ ref('int_feedback__latest_changes') }}

    ),

    moved_records as (

        select source_system, source_record_id
        from feedback
        where not exists (select 1 from stored where stored.doc_id = feedback.doc_id)

        union

        select stored.source_system, stored.source_record_id
        from stored
        inner join latest_changes
            on stored.source_system = latest_changes.source_system
            and stored.source_record_id = latest_changes.source_record_id
        where stored.is_latest_version is distinct from coalesce(stored.doc_id = latest_changes.current_doc_id, false)
            or stored.is_deleted is distinct from latest_changes.is_deleted
            or stored.deleted_at is distinct from latest_changes.deleted_at

        union

        -- the erasure checks look at the few rows that point elsewhere, count copies, or are not the
        -- latest, not at every row: a million-row table is scanned, not grouped or joined whole
        select pointing.source_system, pointing.source_record_id
        from (select * from stored where kept_doc_id <> doc_id) as pointing
        where not exists (select 1 from stored as kept where kept.doc_id = pointing.kept_doc_id)

        union

        select stored.source_system, stored.source_record_id
        from stored
        inner join (
            select duplicate_key
            from stored
            where is_latest_version and copies > 1
            group by duplicate_key
            having count(*) <> max(copies)
        ) as miscounted
            on stored.duplicate_key = miscounted.duplicate_key

        union

        select stored.source_system, stored.source_record_id
        from stored
        inner join (
            select distinct source_system, source_record_id
            from stored
            where not is_latest_version and not is_deleted
        ) as superseded
            on stored.source_system = superseded.source_system
            and stored.source_record_id = superseded.source_record_id
        group by stored.source_system, stored.source_record_id
        having sum(case when stored.is_latest_version then 1 else 0 end) <> 1

    ),
    {%- endif %}

    moved_keys as (

        select feedback.duplicate_key
        from feedback
        inner join moved_records
            on feedback.source_system = moved_records.source_system
            and feedback.source_record_id = moved_records.source_record_id

        union

        select stored.duplicate_key
        from stored
        inner join moved_records
            on stored.source_system = moved_records.source_system
            and stored.source_record_id = moved_records.source_record_id

    ),

    stale_records as (

        select source_system, source_record_id from moved_records

        union

        select stored.source_system, stored.source_record_id
        from stored
        inner join moved_keys
            on stored.duplicate_key = moved_keys.duplicate_key

    )

    select stored.doc_id
    from stored
    inner join stale_records
        on stored.source_system = stale_records.source_system
        and stored.source_record_id = stale_records.source_record_id
{%- endmacro %}
