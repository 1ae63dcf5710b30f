"""PII redaction for silver text: validated patterns + Presidio + the packaged spaCy model."""
