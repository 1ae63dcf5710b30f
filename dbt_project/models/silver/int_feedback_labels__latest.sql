{#- The label that counts for each doc: its most recent label row. Labels are append-only
    (a relabel with a new prompt, model or taxonomy adds rows), so history stays in the source. -#}
-- A view: the label stage writes its source after the silver build and before gold, so it must read
-- through to the current Delta table rather than a copy taken earlier in the run.
{{ config(materialized='view') }}

with

labels as (

    select * from {{ source('silver', 'feedback_labels') }}

),

ranked as (

    select
        *,
        row_number() over (partition by doc_id order by labeled_at desc, label_id desc) as recency

    from labels

),

final as (

    select {{ star_except(['recency']) }} from ranked where recency = 1

)

select * from final
