"""Every path the pipeline reads or writes, relative to the project root; mirrors dvc.yaml."""

from pathlib import Path

PARAMS_FILE = Path("params.yaml")

DATA_DIR = Path("data")
RAW_DIR = DATA_DIR / "raw"  # written only by the `download` stage
EXTRA_DIR = DATA_DIR / "extra"  # extra labelled images, one dvc-added folder per class
PROCESSED_DIR = DATA_DIR / "processed"
# Field photos, `dvc import-url`-ed from the labelling team's folder (data/field.dvc).
FIELD_DIR = DATA_DIR / "field"
FIELD_SPLITS = {"train": "train", "val": "validation"}  # our split name -> its folder

MODELS_DIR = Path("models")
METRICS_DIR = Path("metrics")
PLOTS_DIR = Path("plots")
REPORTS_DIR = Path("reports")  # generated analyses for people to read (HTML), DVC outputs

METRICS_FILE = METRICS_DIR / "metrics.json"  # the CNN on the test split (git-tracked)
FIELD_METRICS_FILE = METRICS_DIR / "field.json"  # the CNN on the field validation photos
BASELINE_METRICS_FILE = METRICS_DIR / "baseline.json"  # the scikit-learn baseline (git-tracked)
TRAIN_LOG_DIR = METRICS_DIR / "train"  # DVCLive's per-epoch learning curves (git-tracked)

# Training resume state lives outside every DVC output so that DVC's run cache
# stays usable for `train` (see apparel_classifier.resume).
RESUME_DIR = Path(".resume")

# Run-specific facts (wall time, host, commit): git-ignored, outside DVC's outputs (see runlog).
TRAIN_RUN_LOG = Path("logs") / "train_runs.jsonl"

# The learning curve's own pipeline (learning_curve/dvc.yaml): one JSON per (model,
# share of the data) point, and one CSV per model that `dvc plots show` draws.
LEARNING_CURVE_DIR = Path("learning_curve")
LEARNING_CURVE_POINTS_DIR = LEARNING_CURVE_DIR / "points"
