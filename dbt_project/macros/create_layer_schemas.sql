{% macro create_layer_schemas(schemas) -%}
    {%- for schema in schemas -%}
        create schema if not exists {{ schema }};
    {% endfor -%}
{%- endmacro %}
