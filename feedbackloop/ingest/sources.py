"""Which adapter reads which inbox folder: the built-in formats plus one per YAML mapping."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from feedbackloop.ingest.app_store import AppStoreAdapter
from feedbackloop.ingest.base import SourceAdapter
from feedbackloop.ingest.google_play import GooglePlayAdapter
from feedbackloop.ingest.intercom import IntercomAdapter
from feedbackloop.ingest.mapped import MappedAdapter, load_mapping
from feedbackloop.ingest.telemetry import TelemetryAdapter
from feedbackloop.ingest.zendesk import ZendeskAdapter
from feedbackloop.settings import Settings

BUILT_IN: dict[str, Callable[[], SourceAdapter]] = {
    "app_store": AppStoreAdapter,
    "google_play": GooglePlayAdapter,
    "zendesk": ZendeskAdapter,
    "intercom": IntercomAdapter,
    "telemetry": TelemetryAdapter,
}


def adapters_for(settings: Settings) -> dict[str, Callable[[], SourceAdapter]]:
    """Every source by name; a name is an inbox folder, a landing-zone folder and a webhook path."""
    adapters = dict(BUILT_IN)
    adapters["zendesk"] = partial(ZendeskAdapter, settings.zendesk_custom_fields or None)
    mappings_dir = settings.source_mappings_dir
    if mappings_dir.exists():
        for path in sorted(mappings_dir.glob("*.y*ml")):
            mapping = load_mapping(path)
            if mapping.source_system in adapters:
                raise ValueError(f"{path}: source_system {mapping.source_system!r} is already defined")
            if mapping.format == "debezium":
                from feedbackloop.cdc.debezium import DebeziumAdapter

                adapters[mapping.source_system] = partial(DebeziumAdapter, mapping)
            else:
                adapters[mapping.source_system] = partial(MappedAdapter, mapping)
    return adapters
