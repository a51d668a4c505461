"""Accuracy: the fraction of predictions equal to their reference (subset accuracy for multi-label)."""

import datasets
import evaluate
from sklearn.metrics import accuracy_score

_DESCRIPTION = "Accuracy = correct predictions / all predictions. With config 'multilabel', a prediction counts as correct only when every label matches."
_KWARGS = """
Args:
    predictions: predicted label ids (lists of 0/1 indicators for 'multilabel').
    references: reference label ids (same form).
    normalize: return the fraction (True, default) or the count of correct predictions.
    sample_weight: optional per-example weights.
Returns:
    accuracy (float)
"""


class Accuracy(evaluate.Metric):
    def _info(self):
        value = datasets.Value("int32")
        kind = datasets.Sequence(value) if self.config_name == "multilabel" else value
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": kind, "references": kind}),
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        score = accuracy_score(references, predictions, normalize=normalize, sample_weight=sample_weight)
        return {"accuracy": float(score)}
