"""The text each model stage sees: one row per kept doc (latest version, duplicates collapsed).

Label, embed and index read their inputs here, so what the models see is decided in one place
(e.g. once PII redaction lands, the redacted text replaces clean_text here and nowhere else).
"""

from __future__ import annotations

import pyarrow as pa

from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect

MODEL_INPUT_SQL = """
select
    feedback.doc_id,
    feedback.clean_text as text,
    md5(coalesce(feedback.clean_text, '')) as input_hash,
    feedback.source_system,
    feedback.channel,
    feedback.event_at,
    feedback.product,
    feedback.product_area,
    feedback.app_version,
    feedback.platform,
    feedback.locale,
    feedback.country,
    feedback.rating,
    enrichment.language
from silver.stg_bronze__feedback as feedback
inner join silver.int_feedback__deduplicated as duplicates
    on feedback.doc_id = duplicates.doc_id and duplicates.is_kept
left join silver.feedback_enrichment as enrichment
    on feedback.doc_id = enrichment.doc_id
"""


def model_inputs(settings: Settings) -> pa.Table:
    """Every kept doc with the text models should see; input_hash changes when that text does."""
    with connect(settings) as conn:
        tables = {name for (name,) in conn.execute("select table_name from information_schema.tables").fetchall()}
        if not {"stg_bronze__feedback", "int_feedback__deduplicated", "feedback_enrichment"} <= tables:
            return pa.table({"doc_id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
        return conn.execute(MODEL_INPUT_SQL).fetch_arrow_table()
