-- Fails when a record deleted at its source (CDC, Debezium or webhook delete) still shows in gold.
select fct_feedback.doc_id
from {{ ref('fct_feedback') }} as fct_feedback
inner join {{ ref('int_feedback__latest_changes') }} as latest_changes
    on fct_feedback.source_system = latest_changes.source_system
    and fct_feedback.source_record_id = latest_changes.source_record_id
where latest_changes.is_deleted
