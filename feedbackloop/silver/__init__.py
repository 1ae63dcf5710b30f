"""Silver, the Python part: enrichment that SQL cannot do (language detection), run after dbt's silver."""
