"""feedbackloop: customer feedback -> auditable decisions."""

__version__ = "0.1.0"
