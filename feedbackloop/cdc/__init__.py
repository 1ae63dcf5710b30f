"""Change data capture: PostgreSQL logical replication (pgoutput) and Debezium files into bronze."""
