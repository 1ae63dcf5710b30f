"""Act: the decision matrix turns incidents and retrain decisions into tickets through an outbox."""
