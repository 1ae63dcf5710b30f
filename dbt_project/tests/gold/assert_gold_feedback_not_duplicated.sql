-- Fails when a superseded version or a collapsed duplicate reached gold: counts and incidents would double-count it.
select fct_feedback.doc_id
from {{ ref('fct_feedback') }} as fct_feedback
inner join {{ ref('int_feedback__deduplicated') }} as duplicates
    on fct_feedback.doc_id = duplicates.doc_id
where not duplicates.is_kept
