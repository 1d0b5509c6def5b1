"""Weights of the reading-confidence model (answers/confidence.py). Written by bench/train_confidence.py; do not
edit by hand. Until trained, every weight is 0 but the bias, and THRESHOLD answers nothing the rules would not."""

WEIGHTS: dict[str, float] = {"bias": 0.0}
THRESHOLD = 0.0
TRAINED_ON = "untrained"
