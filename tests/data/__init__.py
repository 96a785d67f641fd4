"""Invariants of the processed data, on tiny generated raw files."""
