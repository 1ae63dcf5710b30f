"""Prefect flows, one per stage, plus ``feedback-pipeline`` which runs them in order."""
