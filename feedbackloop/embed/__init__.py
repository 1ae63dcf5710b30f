"""Embed: text -> vectors, with the model and version recorded on every vector."""
