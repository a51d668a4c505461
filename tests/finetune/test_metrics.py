"""The shipped metric modules load offline through `evaluate` and agree with their reference libraries."""

from __future__ import annotations

import evaluate
import pytest
import sacrebleu
from sklearn.metrics import f1_score, precision_score, recall_score

from framework.evaluation import METRICS, compute
from framework.evaluation import metrics as metrics_mod

PREDS, REFS = [0, 1, 2, 2, 1, 0, 1], [0, 1, 1, 2, 1, 2, 0]


def test_every_metric_module_is_shipped_and_loads_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in {m.module for m in METRICS.values()}:
        module = metrics_mod.load_metric(name)
        assert isinstance(module, evaluate.EvaluationModule)
        assert (metrics_mod.MODULES_DIR / name / f"{name}.py").is_file()


def test_classification_metrics_match_scikit_learn():
    names = ["accuracy", "f1_macro", "f1_micro", "f1_weighted", "precision_macro", "recall_macro"]
    got = compute(names, predictions=PREDS, references=REFS)
    assert got["accuracy"] == pytest.approx(4 / 7)
    assert got["f1_macro"] == pytest.approx(f1_score(REFS, PREDS, average="macro"))
    assert got["f1_micro"] == pytest.approx(f1_score(REFS, PREDS, average="micro"))
    assert got["f1_weighted"] == pytest.approx(f1_score(REFS, PREDS, average="weighted"))
    assert got["precision_macro"] == pytest.approx(precision_score(REFS, PREDS, average="macro"))
    assert got["recall_macro"] == pytest.approx(recall_score(REFS, PREDS, average="macro"))


def test_multilabel_metrics_use_indicator_rows():
    preds, refs = [[1, 0, 1], [0, 1, 0], [1, 1, 0]], [[1, 0, 1], [0, 1, 1], [1, 0, 0]]
    got = compute(["accuracy", "f1_micro"], predictions=preds, references=refs, multi_label=True)
    assert got["accuracy"] == pytest.approx(1 / 3)  # subset accuracy: only the first row is exact
    assert got["f1_micro"] == pytest.approx(f1_score(refs, preds, average="micro"))


def test_text_metrics():
    preds = ["the cat sat on the mat", "hello there general kenobi", "a b c d"]
    refs = ["the cat sat on a mat", "hello there general kenobi", "x y z w"]
    got = compute(["exact_match", "bleu", "sacrebleu", "rouge"], predictions=preds, references=refs)
    assert got["exact_match"] == pytest.approx(1 / 3)
    expected = sacrebleu.corpus_bleu(preds, [refs]).score
    assert got["sacrebleu"] == pytest.approx(expected)
    assert got["bleu"] == pytest.approx(expected / 100, abs=1e-6)  # same BLEU-4, 13a tokens, 0-1 scale
    assert 0 < got["rouge2"] < got["rouge1"] < 1 and got["rougeL"] <= got["rouge1"]


def test_perplexity_is_token_weighted():
    got = compute(["perplexity"], nll=[2.0, 6.0], num_tokens=[2, 2])
    assert got["perplexity"] == pytest.approx(2.718281828 ** 2)


def test_hub_modules_only_when_asked(monkeypatch):
    calls = []
    monkeypatch.setattr(evaluate, "load", lambda *a, **k: calls.append(a) or (_ for _ in ()).throw(OSError("offline")))
    metrics_mod.load_metric.cache_clear()
    with pytest.raises(Exception, match="from the Hub"):
        compute(["accuracy"], predictions=[1], references=[1], hub=True)
    assert calls == [("accuracy",)]  # the Hub name, not a local path
    metrics_mod.load_metric.cache_clear()


@pytest.mark.parametrize("names, task, message", [
    (["accuracy", "bleu"], "classification", "does not apply to task 'classification'"),
    (["acuracy"], "classification", "unknown metric 'acuracy'"),
    (["accuracy"], "seq2seq", "does not apply to task 'seq2seq'"),
])
def test_metric_names_are_checked(names, task, message):
    with pytest.raises(ValueError, match=message):
        metrics_mod.check_metric_names(names, task)
