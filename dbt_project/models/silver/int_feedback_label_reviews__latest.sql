{#- The latest human decision per doc. Reviews are append-only; a later correction replaces an
    earlier one, and the full before/after trail stays in the source table. -#}
-- A view: the label stage writes its source after the silver build and before gold, so it must read
-- through to the current Delta table rather than a copy taken earlier in the run.
{{ config(materialized='view') }}

with

reviews as (

    select * from {{ source('silver', 'feedback_label_reviews') }}

),

ranked as (

    select
        *,
        row_number() over (partition by doc_id order by reviewed_at desc, review_id desc) as recency

    from reviews

),

final as (

    select {{ star_except(['recency']) }} from ranked where recency = 1

)

select * from final
