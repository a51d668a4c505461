"""LoRA: starts as the base model, trains only adapters and the head, merges exactly."""

from __future__ import annotations

import torch

from framework.finetune.lora import LoRALinear, apply_lora, merge_lora_state
from framework.models.registry import build


def _classifier():
    model = build("bert-debug", task="sequence-classification").eval()
    return model, torch.randint(3, 500, (2, 12))


def test_lora_starts_as_the_base_and_freezes_the_rest():
    model, ids = _classifier()
    before = model(ids).logits
    report = apply_lora(model, r=4, alpha=8, dropout=0.0, targets=[], trainable=["classifier"])
    assert report["modules"] == [f"bert.encoder.layer.{i}.attention.self.{p}" for i in range(2) for p in ("query", "value")]
    torch.testing.assert_close(model(ids).logits, before)  # B = 0 at the start
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {f"{m}.lora_{x}" for m in report["modules"] for x in "AB"} | {"classifier.weight",
                                                                                      "classifier.bias"}
    assert isinstance(model.bert.encoder.layer[0].attention.self.query, LoRALinear)
    assert "bert.encoder.layer.0.attention.self.query.weight" in model.state_dict()  # base keys unchanged


def test_merge_reproduces_the_adapted_model():
    model, ids = _classifier()
    apply_lora(model, r=4, alpha=8, dropout=0.0, targets=["query", "key", "value"], trainable=[])
    base = model(ids).logits
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.lora_B.normal_(std=0.5)
    adapted = model(ids).logits
    plain, _ = _classifier()
    plain.load_state_dict(merge_lora_state(model.state_dict(), scaling=8 / 4))
    torch.testing.assert_close(plain.eval()(ids).logits, adapted, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(adapted, base, atol=1e-3)  # the adapters did change the output
