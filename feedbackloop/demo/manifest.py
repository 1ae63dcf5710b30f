"""What the demo manifest says about the generated data: totals, planted incidents, evidence and dirt."""

from __future__ import annotations

from typing import Any

from feedbackloop.demo.world import Incident, iso_ms


class Evidence:
    """Counts an incident's telemetry in its window and in an equally long window just before it.

    The baseline window is clipped to the start of the data, so both windows only count generated rows.
    """

    def __init__(self, incident: Incident, data_start_ms: int) -> None:
        self.incident = incident
        baseline_start = max(data_start_ms, 2 * incident.onset_ms - incident.end_ms)
        self.windows = ((baseline_start, incident.onset_ms), (incident.onset_ms, incident.end_ms))
        self.sessions = [0, 0]
        self.failures = [0, 0]
        self.latency_sum = [0.0, 0.0]
        self.latency_n = [0, 0]
        self.event_type = {"billing_incident": "checkout_failed", "login_incident": "login_failed"}.get(incident.kind)

    def observe(self, t: int, events: list[tuple[int, str, Any]]) -> None:
        for i, (lo, hi) in enumerate(self.windows):
            if lo <= t < hi:
                self.sessions[i] += 1
                for _, event_type, value in events:
                    if event_type == self.event_type:
                        self.failures[i] += 1
                    elif event_type == "latency" and self.event_type is None:
                        self.latency_sum[i] += value
                        self.latency_n[i] += 1

    def summary(self) -> dict[str, Any]:
        (b0, b1), (d0, d1) = self.windows
        out: dict[str, Any] = {
            "baseline_window": [iso_ms(b0), iso_ms(b1)],
            "incident_window": [iso_ms(d0), iso_ms(d1)],
            "sessions": {"baseline": self.sessions[0], "incident": self.sessions[1]},
        }
        if self.event_type:
            out[self.event_type] = {"baseline": self.failures[0], "incident": self.failures[1]}
        else:
            out["mean_latency_ms"] = {
                name: round(self.latency_sum[i] / max(self.latency_n[i], 1), 1)
                for i, name in enumerate(("baseline", "incident"))
            }
        return out


def incident_entry(incident: Incident, evidence: Evidence) -> dict[str, Any]:
    entry = incident.as_dict()
    entry["evidence"]["observed"] = evidence.summary()
    return entry


def counterfactual_window(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "product": incident.stream.product.product,
        "platform": incident.stream.platform,
        "onset": iso_ms(incident.onset_ms),
        "end": iso_ms(incident.end_ms),
    }


_BAD_ROWS = {
    "app_store_missing_id": ("app_store", "quarantine: missing source_record_id"),
    "google_play_unparseable_timestamp": ("google_play", "quarantine: unparseable timestamp"),
    "zendesk_missing_ticket_id": ("zendesk", "quarantine: ticket has no id"),
    "telemetry_missing_event_id": ("telemetry", "quarantine: missing event_id"),
}
_TEXT_DIRT = {
    "html_in_ticket_body": ("zendesk", "body wrapped in <p>/<br> with &amp; entities; kept, cleaned downstream"),
    "email_signature": ("zendesk", "'Sent from my iPhone' or 'Best regards, <name>' appended; stripped downstream"),
    "pii_in_text": ("app_store, google_play, zendesk", "emails, fictional phone numbers or full names; redacted "
                    "downstream"),
}  # fmt: skip


def dirt_section(
    bad_rows: dict[str, int],
    truncated_lines: int,
    duplicates: dict[str, int],
    text_dirt: dict[str, int],
    text_rates: dict[str, float],
) -> dict[str, Any]:
    """Every kind of planted dirt, how many rows carry it, and what ingest is expected to do with it."""
    kinds: dict[str, dict[str, Any]] = {}
    for kind, n in sorted(bad_rows.items()):
        source, effect = _BAD_ROWS[kind]
        kinds[kind] = {"source": source, "rows": n, "effect": effect}
    kinds["telemetry_truncated_line"] = {
        "source": "telemetry",
        "rows": truncated_lines,
        "effect": "quarantine: invalid JSON (an export cut off mid-line at the end of one weekly file)",
    }
    kinds["overlapping_export_duplicates"] = {
        "rows_by_source": dict(sorted(duplicates.items())),
        "effect": "some weekly files start with the previous file's last rows; ingest counts them as duplicates",
    }
    for kind, n in text_dirt.items():
        source, effect = _TEXT_DIRT[kind]
        kinds[kind] = {"source": source, "rows": n, "rate": text_rates[kind], "effect": effect}
    kinds["names_in_dataset_tickets"] = {
        "source": "zendesk",
        "effect": "tickets reusing the synthetic multilingual ticket dataset get its <name>, <tel_num> and <email> "
        "placeholders filled with fake values, so greetings and sign-offs carry names as real tickets do",
    }
    return {
        "expected_quarantine_rows": sum(bad_rows.values()) + truncated_lines,
        "expected_duplicate_rows": sum(duplicates.values()),
        "kinds": kinds,
    }
