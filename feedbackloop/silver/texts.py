"""The text each model stage sees: one row per kept doc (latest version, duplicates collapsed).

Label, embed and index read their inputs here, so what the models see is decided in one place
Only redacted text leaves here: a doc reaches the models once the redaction stage has seen it.
"""

from __future__ import annotations

import pyarrow as pa

from feedbackloop.settings import Settings
from feedbackloop.warehouse import connect

MODEL_INPUT_SQL = """
select
    feedback.doc_id,
    redacted.redacted_text as text,
    md5(coalesce(redacted.redacted_text, '')) as input_hash,
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
inner join silver.feedback_redacted as redacted
    on feedback.doc_id = redacted.doc_id
left join silver.feedback_enrichment as enrichment
    on feedback.doc_id = enrichment.doc_id
"""


REQUIRED_TABLES = {"stg_bronze__feedback", "int_feedback__deduplicated", "feedback_enrichment", "feedback_redacted"}


def model_inputs(settings: Settings) -> pa.Table:
    """Every kept doc with the text models should see; input_hash changes when that text does."""
    with connect(settings) as conn:
        tables = {name for (name,) in conn.execute("select table_name from information_schema.tables").fetchall()}
        if not tables >= REQUIRED_TABLES:
            return pa.table({"doc_id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
        return conn.execute(MODEL_INPUT_SQL).fetch_arrow_table()
