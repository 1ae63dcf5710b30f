{#- The columns of a table that must never be null, checked in one query; a failing row says which
    of them are null (null_columns). One test per table rather than one per column: every dbt test
    is a node with a fixed cost of its own, and a model waits for every test of the models it reads.
    Keys keep their own `unique` and `not_null` tests. -#}
{% test not_null_columns(model, column_names) %}

select
    concat_ws(', '
        {%- for column in column_names %}, case when {{ column }} is null then '{{ column }}' end{% endfor -%}
    ) as null_columns,
    *
from {{ model }}
where {% for column in column_names %}{{ column }} is null{% if not loop.last %} or {% endif %}{% endfor %}

{% endtest %}
