"""Real `dvc` and `git` commands in temporary repositories on tiny generated data."""
