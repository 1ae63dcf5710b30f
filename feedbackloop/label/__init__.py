"""Label: feedback -> a validated, audited decision object (category, severity, sentiment, action...).

The cascade tries a rule tier (no usable text), then the local embedding classifier, then the LLM;
anything it cannot trust goes to the human review queue.
"""
