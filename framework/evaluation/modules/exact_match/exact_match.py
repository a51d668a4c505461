"""Exact match: the fraction of predicted strings identical to their reference, after optional normalisation."""

import re
import string

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Exact match rate between predicted and reference strings, in [0, 1]."
_KWARGS = """
Args:
    predictions: predicted strings.
    references: reference strings.
    regexes_to_ignore: regular expressions removed from both sides before comparing.
    ignore_case: lowercase both sides first.
    ignore_punctuation: strip ASCII punctuation first.
    ignore_numbers: strip digits first.
Returns:
    exact_match (float)
"""


class ExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation="", inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("string"),
                                        "references": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, regexes_to_ignore=None, ignore_case=False,
                 ignore_punctuation=False, ignore_numbers=False):
        preds, refs = np.asarray(predictions, dtype=object), np.asarray(references, dtype=object)
        for pattern in regexes_to_ignore or []:
            preds = np.array([re.sub(pattern, "", s) for s in preds], dtype=object)
            refs = np.array([re.sub(pattern, "", s) for s in refs], dtype=object)
        removals = (string.punctuation if ignore_punctuation else "") + (string.digits if ignore_numbers else "")
        table = str.maketrans("", "", removals)
        norm = [(s.lower() if ignore_case else s).translate(table) for s in preds]
        ref_norm = [(s.lower() if ignore_case else s).translate(table) for s in refs]
        matches = [p == r for p, r in zip(norm, ref_norm)]
        return {"exact_match": float(np.mean(matches)) if matches else 0.0}
