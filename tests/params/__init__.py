"""Unit tests: parsers and params validation, pure functions, milliseconds each."""
