{#- On DuckDB, a generic data test checks only the rows that changed since it last passed, when
    feedbackloop can tell which (feedbackloop/transform/test_scope.py); otherwise, and on every
    other target, the whole relation, as dbt does. A test with its own `where` is left to dbt. -#}
{% macro duckdb__get_where_subquery(relation) -%}
    {%- set test = model.get('test_metadata') if execute else none -%}
    {%- if test and not config.get('where') and relation.schema and relation.identifier -%}
        {%- set kwargs = test.get('kwargs', {}) -%}
        {%- set parent = none -%}
        {%- set to = modules.re.match("^ref\\(\\s*['\"]([^'\"]+)['\"]\\s*\\)$", kwargs.get('to') or '') -%}
        {%- if to -%}
            {%- set parent = ref(to.group(1)) -%}
        {%- endif -%}
        {#- not_null_columns checks several columns: they go as one comma-separated list -#}
        {%- set columns = kwargs.get('column_name') or (kwargs.get('column_names') or []) | join(',') -%}
        {%- set args = [model.unique_id, test.get('name'), relation | string,
                        relation.schema ~ '.' ~ relation.identifier, columns,
                        (parent.schema ~ '.' ~ parent.identifier) if parent else '',
                        kwargs.get('field') or ''] -%}
        {#- the delta plugin answers (feedbackloop/transform/delta_plugin.py), without a query -#}
        {%- set asked = {'args': args | map('string') | list} -%}
        {%- do adapter.store_relation('delta_lake', relation, [], '', 'feedbackloop:test_scope', asked) -%}
        {%- set scope = asked.get('scope') -%}
        {%- if scope -%}
            {{ return('(' ~ scope ~ ') dbt_subquery') }}
        {%- endif -%}
    {%- endif -%}
    {{ return(dbt.default__get_where_subquery(relation)) }}
{%- endmacro %}
