"""Bad input fails before any training, with a message that names the problem and the fix.

Every check here runs `prepare` / `initialise` in-process: they stop before DeepSpeed is touched.
"""

from __future__ import annotations

import shutil

import pytest

from framework.cli.main import main
from framework.config import ConfigError
from framework.errors import FrameworkError
from framework.finetune.config import load_finetune_config
from framework.finetune.init import initialise
from framework.finetune.runner import prepare
from tests.finetune.conftest import RECIPES, REPO
from tests.finetune.helpers import hf_folder


@pytest.fixture
def bert_hf(tmp_path_factory, tokenizers):
    return hf_folder(tmp_path_factory.mktemp("bert-hf"), "bert-debug", tokenizers["wordpiece"][0])


def _cfg(base, *overrides, recipe="bert-tiny-sentiment.yaml"):
    return load_finetune_config(RECIPES / recipe, [f"model.init_from={base}", "run_dir=unused", *overrides])


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    monkeypatch.chdir(REPO)


def test_a_good_recipe_prepares(bert_hf):
    prepared = prepare(_cfg(bert_hf))
    assert prepared.labels.names == ["negative", "positive"]
    assert len(prepared.examples["train"]) == 240 and len(prepared.examples["test"]) == 60
    model, report = initialise(prepared.cfg, prepared.tokenizer, prepared.labels)
    # A masked LM has no pooler: it is new, like the classifier, and both are reported.
    assert report.new_weights == ["bert.pooler.dense.bias", "bert.pooler.dense.weight", "classifier.bias",
                                  "classifier.weight"]
    assert model.config.id2label == {0: "negative", 1: "positive"}


@pytest.mark.parametrize("overrides, message", [
    (["data.columns.text=review"], "has no column 'review' for 'text'"),
    (["data.labels=[negative]"], "label 'positive' is not one of the 1 labels"),
    (["data.labels=[neg, pos]"], "label 'negative' is not one of the 2 labels"),
    (["data.splits.train=training"], "data.splits.train='training' is not a split"),
    (["data.dataset=recipes/finetune/data/missing.csv"], "does not exist"),
])
def test_bad_data_is_rejected_before_training(bert_hf, overrides, message):
    with pytest.raises(FrameworkError) as err:
        prepare(_cfg(bert_hf, *overrides))
    assert message in str(err.value)


def test_an_empty_split_is_rejected(bert_hf, tmp_path):
    shutil.copytree(REPO / "recipes/finetune/data/sentiment", tmp_path / "data")
    (tmp_path / "data" / "validation.csv").write_text("sentence,sentiment\n")
    with pytest.raises(FrameworkError, match="the validation split .* is empty"):
        prepare(_cfg(bert_hf, f"data.dataset={tmp_path / 'data'}"))


def test_labels_that_do_not_match_num_labels(bert_hf):
    cfg = _cfg(bert_hf, "model.config.num_labels=3")
    prepared = prepare(cfg)
    with pytest.raises(ConfigError, match="num_labels=3 but the data has 2 labels"):
        initialise(cfg, prepared.tokenizer, prepared.labels)


def test_a_model_without_the_head_is_rejected(tmp_path, tokenizers, capsys):
    t5 = hf_folder(tmp_path / "t5", "t5-debug", tokenizers["unigram"][0])
    cfg = _cfg(t5)
    with pytest.raises(ConfigError, match="t5 model, which has no 'sequence-classification' head"):
        prepare(cfg)
    assert main(["finetune", str(RECIPES / "bert-tiny-sentiment.yaml"), f"model.init_from={t5}", "--check"]) == 2
    assert "Families with one: bert, gpt2, llama" in capsys.readouterr().err


def test_a_tokenizer_larger_than_the_vocabulary_is_rejected(tmp_path, tokenizers):
    small = hf_folder(tmp_path / "bert", "bert-debug", tokenizers["wordpiece"][0], vocab_size=100)
    cfg = _cfg(small)
    prepared = prepare(cfg)
    with pytest.raises(FrameworkError, match="the tokenizer has 512 tokens but the bert model's vocab_size is 100"):
        initialise(cfg, prepared.tokenizer, prepared.labels)


@pytest.mark.parametrize("overrides, message", [
    (["eval.metrics=[rouge]"], "metric 'rouge' does not apply to task 'classification'"),
    (["eval.select=bleu"], "eval.select='bleu' is not produced by eval.metrics"),
    (["data.columns.source=doc"], "are not roles of task 'classification'"),
    (["train.label_smoothing=0.1"], "label_smoothing applies to task seq2seq"),
    (["eval.patience=2", "eval.select=null"], "eval.patience (early stopping) needs eval.select"),
    (["train.lr=1e-3"], "unknown key 'train.lr'"),
])
def test_bad_recipes_name_the_key(overrides, message):
    with pytest.raises(ConfigError) as err:
        load_finetune_config(RECIPES / "bert-tiny-sentiment.yaml", overrides)
    assert message in str(err.value)
