"""Train the reading-confidence model (src/nl2sql/answers/confidence.py) on the development folds of
../shared/spider_train, deterministically, and write its weights to src/nl2sql/answers/confidence_weights.py.

    .venv/bin/python bench/train_confidence.py              # train on folds 0-2, write the weights
    .venv/bin/python bench/train_confidence.py --check      # train, print, write nothing

Each development-fold question is answered by the reader as bench/spider.py does; a reading's label is whether
its SQL is right by the sql-eval rule. A logistic regression (L2, Newton's method, no randomness) fits the
features. The threshold is set out of sample: each development fold is scored by a model fitted on the other two,
the largest share of those out-of-fold scores whose answers are at least TARGET right is found, and the threshold
is the final model's confidence at that same share (a threshold fitted and measured on the same folds promised 92%
and gave 88% on the held-back ones). The held-back folds (3 and 4) are never read here: `bench/spider.py`
measures them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import spider  # noqa: E402  (bench/spider.py, beside this file)

TARGET = 0.92  # out-of-fold precision wanted on the development folds (a margin over the 90% the held-back folds need)
L2 = 1.0
OUT = Path(__file__).resolve().parents[1] / "src" / "nl2sql" / "answers" / "confidence_weights.py"


def collect() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    from nl2sql.answers.confidence import FEATURES

    questions = spider.load_questions()
    fold_of = spider.folds(questions)
    dev = [q for q in questions if fold_of[q.db] not in spider.HELD_OUT]
    spider.Answerer.threshold = 2.0  # answer nothing: every reading is only judged
    rows = spider.run_questions(dev, fold_of, None)
    # the model decides only among readings that account for every word (the others are asked back anyway)
    kept = [r for r in rows if r["features"] is not None and not r["features"]["left_out"]
            and not r["features"]["unread"]]
    x = np.array([[r["features"][name] for name in FEATURES] for r in kept], dtype=float)
    y = np.array([1.0 if r["would_subset"] else 0.0 for r in kept])
    return x, y, np.array([r["fold"] for r in kept]), list(FEATURES)


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], L2)
    penalty[0] = 0.0  # the bias is not shrunk
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _probabilities(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x @ w, -30, 30)))


def out_of_fold(x: np.ndarray, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Each reading's confidence by a model fitted without its fold."""
    p = np.zeros(len(y))
    for f in np.unique(fold):
        p[fold == f] = _probabilities(x[fold == f], fit(x[fold != f], y[fold != f]))
    return p


def threshold_for(p: np.ndarray, y: np.ndarray, target: float) -> tuple[float, float, int]:
    """The lowest threshold whose answers are at least `target` right (at least 20 answers)."""
    order = np.argsort(-p)
    right = np.cumsum(y[order])
    best = (1.0, 0.0, 0)
    for k in range(20, len(order) + 1):
        precision = right[k - 1] / k
        if precision >= target:
            best = (float(p[order[k - 1]]), float(precision), k)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="print the fit, write nothing")
    args = parser.parse_args()
    started = time.perf_counter()
    x, y, fold, names = collect()
    w = fit(x, y)
    p = _probabilities(x, w)
    oof = out_of_fold(x, y, fold)
    _, precision, answered = threshold_for(oof, y, TARGET)
    order, oof_order = np.argsort(-p), np.argsort(-oof)
    threshold = float(p[order[answered - 1]]) if answered else 1.0
    print("\nanswered share -> right of those (development folds, readings that use every word; out of fold)")
    for share in (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0):
        k = max(1, int(share * len(order)))
        print(f"  top {100 * share:>3.0f}%: {int(y[oof_order[:k]].sum())}/{k} = {100 * y[oof_order[:k]].mean():.1f}% "
              f"right (in sample {100 * y[order[:k]].mean():.1f}%), threshold {p[order[k - 1]]:.3f}")
    print(f"\n{len(y)} development-fold readings, {int(y.sum())} right ({100 * y.mean():.1f}%)")
    print(f"threshold {threshold:.4f}: {answered} answered ({100 * answered / len(y):.1f}%), "
          f"{100 * precision:.1f}% of them right out of fold ({100 * y[p >= threshold].mean():.1f}% in sample)")
    for name, weight in sorted(zip(names, w, strict=True), key=lambda item: -abs(item[1])):
        print(f"  {name:<22} {weight:+.3f}")
    print(f"({time.perf_counter() - started:.0f} s)")
    if args.check:
        return
    weights = ",\n".join(f'    "{name}": {weight:.6f}' for name, weight in zip(names, w, strict=True))
    OUT.write_text(
        '"""Weights of the reading-confidence model (answers/confidence.py). Written by bench/train_confidence.py; do '
        'not\nedit by hand."""\n\n'
        f"WEIGHTS: dict[str, float] = {{\n{weights},\n}}\n"
        f"THRESHOLD = {threshold:.6f}\n"
        f'TRAINED_ON = "spider_train folds 0-2: {len(y)} readings, {answered} answered at the threshold, '
        f'{100 * precision:.1f}% of them right out of fold"\n')
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
