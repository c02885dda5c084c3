"""Classification metrics from a confusion matrix.

Written with numpy rather than scikit-learn to keep the trial's dependency set small; the
definitions are scikit-learn's, and the tests compare against it: macro-F1 averages the F1 of
every class present in the targets or the predictions (``f1_score(average="macro")``), with 0
where precision or recall is undefined; per-class precision and recall are 0 where undefined.
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
    present = (actual > 0) | (predicted > 0)  # sklearn's labels: those in y_true or y_pred
    return {
        "acc": float(tp.sum() / max(cm.sum(), 1)),
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "confusion": cm.tolist(),
    }
