{#- Normalise free text for models and people: no HTML, no entities, no e-mail signature, single
    spaces. One macro, so silver and the tests share one definition of "clean". Steps run in order. -#}
{% macro clean_text(expr) -%}
    {%- set steps = [
        ('(?i)<\\s*(br|/p|/div|/li|/tr)\\s*/?>', 'chr(10)'),
        ('<[^>]*>', "' '"),
        ('(?is)(\\n[ \\t]*--[ \\t]*\\n|\\n[ \\t]*sent from my [a-z ]+|\\n[ \\t]*(best|kind|warm) regards\\b|\\n[ \\t]*cheers,?[ \\t]*\\n).*$', "''"),
        ('[\\x{200B}\\x{FEFF}]', "''"),
        ('\\s+', "' '"),
    ] -%}
    {%- set ns = namespace(sql=expr) -%}
    {%- for pattern, replacement in steps -%}
        {%- set ns.sql = regex_replace_all(ns.sql, pattern, replacement) -%}
        {%- if loop.index == 2 -%}{%- set ns.sql = decode_html_entities(ns.sql) -%}{%- endif -%}
    {%- endfor -%}
    nullif(trim({{ ns.sql }}), '')
{%- endmacro %}

{% macro decode_html_entities(expr) -%}
    replace(replace(replace(replace(replace(replace({{ expr }},
        '&nbsp;', ' '), '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&amp;', '&')
{%- endmacro %}
