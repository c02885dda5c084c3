"""Classification metrics from a confusion matrix.

Written with numpy rather than scikit-learn to keep the trial's dependency set small; the
definitions are scikit-learn's (macro-F1 averages per-class F1, 0 where undefined).
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``cm[i, j]`` counts clips of true class i predicted as j."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (targets, predictions), 1)
    return cm


def classification_metrics(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> dict:
    """Accuracy, macro-F1, and per-class precision and recall."""
    cm = confusion_matrix(targets, predictions, num_classes)
    tp = np.diag(cm).astype(float)
    predicted = cm.sum(axis=0)
    actual = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = actual > 0
    return {
        "acc": float(tp.sum() / max(cm.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "confusion": cm.tolist(),
    }
