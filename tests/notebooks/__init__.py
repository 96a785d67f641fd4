"""The notebooks in notebooks/: they run on a tiny project, and are committed without outputs."""
