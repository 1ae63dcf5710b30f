"""Detection: online complaint clustering, telemetry evidence, rules over rolling windows, incidents."""
