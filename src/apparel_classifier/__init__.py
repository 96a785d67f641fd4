"""Fashion-MNIST apparel classifier: a DVC-versioned training pipeline and its predictor."""

__version__ = "0.1.0"
