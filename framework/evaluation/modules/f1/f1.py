"""F1: scikit-learn's f1_score over label ids, averaged as asked (binary, macro, micro, weighted, samples)."""

import datasets
import evaluate
from sklearn.metrics import f1_score

_DESCRIPTION = "F1 of predicted against reference labels. With config 'multilabel', inputs are lists of 0/1 indicators."
_KWARGS = """
Args:
    predictions: predicted label ids (lists of 0/1 indicators for 'multilabel').
    references: reference label ids (same form).
    labels: the labels to include when average is not 'binary'.
    pos_label: the positive class for average='binary' (default 1).
    average: 'binary' (default), 'macro', 'micro', 'weighted', 'samples', or None for per-class scores.
    sample_weight: optional per-example weights.
    zero_division: value when a class has no predictions or references ('warn', 0, 1).
Returns:
    f1 (float, or a list of floats when average is None)
"""


class F1(evaluate.Metric):
    def _info(self):
        value = datasets.Value("int32")
        kind = datasets.Sequence(value) if self.config_name == "multilabel" else value
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": kind, "references": kind}),
        )

    def _compute(self, predictions, references, labels=None, pos_label=1, average="binary", sample_weight=None,
                 zero_division="warn"):
        score = f1_score(references, predictions, labels=labels, pos_label=pos_label, average=average,
                        sample_weight=sample_weight, zero_division=zero_division)
        return {"f1": score.tolist() if getattr(score, "ndim", 0) else float(score)}
