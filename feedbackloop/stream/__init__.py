"""Streaming ingest: signed webhooks -> durable landing zone (Auto Loader layout) -> micro-batches into bronze."""
