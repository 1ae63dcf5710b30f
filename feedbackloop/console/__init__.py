"""The operator console (``feedbackloop ui``): overview, incidents, actions, review queue and search in a browser."""
