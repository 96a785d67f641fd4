"""One thin module per DVC stage, named as in dvc.yaml (`python -m apparel_classifier.stages.X`)."""
