"""Tooling beside the product: benchmarks, the CI quality gate, a server launcher for tests."""
