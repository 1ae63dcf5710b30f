"""Transform: dbt builds silver and gold; this package runs it and lets DuckDB write Delta."""
