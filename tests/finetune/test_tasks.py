"""Encoding, padding, losses and the feed, without the engine."""

from __future__ import annotations

import pytest
import torch

from framework.data import load_tokenizer
from framework.finetune.config import load_finetune_config
from framework.finetune.data import LabelSpace, class_weights
from framework.finetune.feed import FinetuneFeed
from framework.finetune.tasks import CHAT_TEMPLATE, ClassificationTask, SFTTask
from framework.models.common.losses import IGNORE_INDEX
from tests.finetune.conftest import RECIPES


def _cfg(name: str, *overrides: str):
    return load_finetune_config(RECIPES / name, list(overrides))


def test_sft_masks_the_prompt_and_ends_with_eos(tokenizers):
    tok = load_tokenizer(tokenizers["bpe"][0])
    task = SFTTask(_cfg("gpt2-tiny-sft.yaml", "data.template=chat", "data.max_length=96"), tok)
    row = {"instruction": "repeat: good bad", "output": "good bad"}
    ex = task.encode(row, "row 0")
    prompt_text = CHAT_TEMPLATE.format(system="You are a helpful assistant.", prompt="repeat: good bad")
    prompt = tok(prompt_text)["input_ids"]
    response = tok("good bad", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    assert ex["input_ids"] == prompt + response and ex["prompt_length"] == len(prompt)
    assert ex["labels"] == [IGNORE_INDEX] * len(prompt) + response  # only the response is learned
    batch = task.collate([ex, task.encode({"instruction": "repeat: a", "output": "a"}, "row 1")])
    assert batch["num_items"] == (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
    assert batch["attention_mask"][1].sum() < batch["attention_mask"][0].sum()  # padded to the longest


def test_classification_labels_weights_and_multi_label(tokenizers):
    tok = load_tokenizer(tokenizers["wordpiece"][0])
    labels = LabelSpace(["negative", "positive"])
    assert labels.encode("positive", "r") == 1 and labels.encode(0, "r") == 0
    assert labels.config_fields()["id2label"] == {0: "negative", 1: "positive"}
    cfg = _cfg("bert-tiny-sentiment.yaml")
    assert class_weights(cfg, labels, [1, 1, 1, 0]) == pytest.approx([2.0, 2 / 3])  # balanced: n / (k * count)
    task = ClassificationTask(cfg, tok, labels, use_token_types=True, weights=[2.0, 2 / 3])
    logits, y = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])
    plain = torch.nn.functional.cross_entropy(logits, y, reduction="none")
    assert task.loss_from_logits(logits, y) == pytest.approx(2.0 * plain.sum().item())
    topics = LabelSpace(["food", "music", "sport"], multi_label=True)
    assert topics.encode("food,sport", "r") == [1.0, 0.0, 1.0] and topics.encode(["music"], "r") == [0.0, 1.0, 0.0]
    multi = ClassificationTask(_cfg("llama-tiny-topics-lora.yaml"), tok, topics, use_token_types=False)
    assert multi.predict(torch.tensor([[3.0, -3.0, 0.5]])) == [[1, 0, 1]]


def test_feed_is_seeded_sharded_and_resumable(tokenizers):
    tok = load_tokenizer(tokenizers["wordpiece"][0])
    task = ClassificationTask(_cfg("bert-tiny-sentiment.yaml"), tok, LabelSpace(["a", "b"]), use_token_types=False)
    examples = [{"input_ids": [2, 10 + i, 3], "label": i % 2} for i in range(10)]

    def feed(rank):
        return FinetuneFeed(task, examples, [], tokenizer_dir=None, seed=3, rank=rank, world_size=2, micro_batch=2)

    a, b = feed(0), feed(1)
    seen = [t for _ in range(5) for f in (a, b) for t in f.next_batch()["input_ids"][:, 1].tolist()]
    assert sorted(seen[:10]) == list(range(10, 20))  # one epoch: every example once across both ranks
    state = a.state_dict()
    nxt = a.next_batch()["input_ids"]
    resumed = feed(0)
    resumed.load_state_dict(state)
    assert torch.equal(resumed.next_batch()["input_ids"], nxt)


def test_hub_dataset_ids_go_through_datasets_with_seeded_split_fractions(monkeypatch):
    import datasets

    calls = []
    rows = {"sentence": [f"text {i}" for i in range(50)], "sentiment": ["positive", "negative"] * 25}

    def fake_load_dataset(path, name=None, **kwargs):
        calls.append((path, name))
        return datasets.DatasetDict(train=datasets.Dataset.from_dict(rows))

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    from framework.finetune.data import load_splits

    cfg = _cfg("bert-tiny-sentiment.yaml", "data.dataset=org/reviews", "data.name=en", "data.validation_fraction=0.2",
               "data.test_fraction=0.1")
    first, again = load_splits(cfg), load_splits(cfg)
    assert calls == [("org/reviews", "en")] * 2  # the real `datasets` Hub path, with the configuration name
    assert {k: len(v) for k, v in first.items()} == {"train": 36, "validation": 9, "test": 5}
    assert first["validation"]["sentence"] == again["validation"]["sentence"]  # seeded by train.seed
