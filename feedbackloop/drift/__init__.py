"""Drift: an Evidently report per run (current vs reference window) and the retraining policy it gates."""
