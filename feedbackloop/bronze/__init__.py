"""Bronze: append-only Delta tables holding every record exactly as it arrived, plus quarantine."""
