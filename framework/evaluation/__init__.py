"""Evaluation: metrics through the `evaluate` library (modules shipped with the package) and
`framework evaluate CHECKPOINT --data ...`.

    from framework.evaluation import compute, load_metric, METRICS
    compute(["accuracy", "f1_macro"], predictions=[0, 1], references=[0, 0])
    evaluate_checkpoint(path, data=..., split="test", metrics=[...])  # what the CLI runs
"""

from framework.evaluation.metrics import METRICS, Metric, compute, load_metric

__all__ = ["METRICS", "Metric", "compute", "load_metric"]
