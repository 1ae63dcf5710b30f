{#- Layer schemas are called what they are (silver, gold), not <target>_silver: the lake layout and
    the Unity Catalog schemas then carry the same names in both worlds. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
