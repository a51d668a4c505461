"""Metric names a recipe or `framework evaluate --metrics` may use, and how each is computed.

Every metric goes through the `evaluate` library. The modules are the ones shipped in
`framework/evaluation/modules/` (loaded from disk, so evaluation works offline); `hub=True`
loads the Hub's module of the same name instead (perplexity has no Hub equivalent that scores
the model under evaluation, so it is always local).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from framework.errors import FrameworkError

MODULES_DIR = Path(__file__).parent / "modules"


@dataclass(frozen=True)
class Metric:
    """name: what recipes say; module: the `evaluate` module; kind: what it scores
    (labels: class ids; text: generated strings; nll: token losses); kwargs: passed to compute;
    keys: result key -> the name it is reported under."""

    name: str
    module: str
    kind: str
    keys: dict[str, str]
    kwargs: dict = field(default_factory=dict)


def _averaged(module: str, average: str) -> Metric:
    return Metric(f"{module}_{average}", module, "labels", {module: f"{module}_{average}"}, {"average": average})


METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("accuracy", "accuracy", "labels", {"accuracy": "accuracy"}),
    *[_averaged(module, avg) for module in ("f1", "precision", "recall") for avg in ("macro", "micro", "weighted")],
    Metric("exact_match", "exact_match", "text", {"exact_match": "exact_match"}),
    Metric("rouge", "rouge", "text", {k: k for k in ("rouge1", "rouge2", "rougeL", "rougeLsum")}),
    Metric("bleu", "bleu", "text", {"bleu": "bleu"}),
    Metric("sacrebleu", "sacrebleu", "text", {"score": "sacrebleu"}),
    Metric("perplexity", "perplexity", "nll", {"perplexity": "perplexity"}),
]}
TASK_KINDS = {"classification": {"labels"}, "sft": {"text", "nll"}, "seq2seq": {"text", "nll"}}


def check_metric_names(names: list[str], task: str) -> None:
    for name in names:
        if name not in METRICS:
            raise ValueError(f"unknown metric '{name}'; available: {', '.join(sorted(METRICS))}.")
        if METRICS[name].kind not in TASK_KINDS[task]:
            usable = sorted(n for n, m in METRICS.items() if m.kind in TASK_KINDS[task])
            raise ValueError(f"metric '{name}' does not apply to task '{task}'; use one of {', '.join(usable)}.")


def result_keys(name: str) -> list[str]:
    return list(METRICS[name].keys.values())


@functools.lru_cache(maxsize=None)
def load_metric(module: str, hub: bool = False, config_name: str | None = None):
    """An `evaluate` module: the shipped local one, or the Hub's when `hub` is true."""
    import evaluate

    source = module if hub else str(MODULES_DIR / module)
    if not hub and not (MODULES_DIR / module / f"{module}.py").exists():
        raise FrameworkError(f"no shipped metric module '{module}' in {MODULES_DIR}.")
    try:
        return evaluate.load(source, config_name) if config_name else evaluate.load(source)
    except Exception as err:  # network / missing dependency: one message for people
        where = "the Hub (needs network)" if hub else str(MODULES_DIR / module)
        raise FrameworkError(f"cannot load metric '{module}' from {where}: {type(err).__name__}: {err}") from None


def compute(names: list[str], *, predictions=None, references=None, nll=None, num_tokens=None,
            multi_label: bool = False, hub: bool = False) -> dict[str, float]:
    """Every named metric over one split's outputs, flattened to {reported name: value}."""
    out: dict[str, float] = {}
    for name in names:
        metric = METRICS[name]
        if metric.kind == "nll":
            module = "perplexity"  # always local: the Hub module would download a model
            result = load_metric(module).compute(nll=nll, num_tokens=num_tokens)
        else:
            config = "multilabel" if multi_label and metric.kind == "labels" else None
            kwargs = dict(metric.kwargs)
            if not hub and metric.module in ("f1", "precision", "recall"):
                kwargs["zero_division"] = 0  # a class never predicted scores 0, without a warning
            module = load_metric(metric.module, hub, config)
            result = module.compute(predictions=predictions, references=references, **kwargs)
        for key, reported in metric.keys.items():
            out[reported] = float(result[key])
    return out
