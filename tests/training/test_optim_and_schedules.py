import math

import pytest
import torch

from framework.models.registry import build
from framework.training.model_setup import apply_activation_checkpointing
from framework.training.optim import GuardedAdamW, param_groups
from framework.training.schedules import LRSchedule


def test_no_weight_decay_on_norms_biases_and_embeddings():
    model = build("llama-debug")
    decay, no_decay = param_groups(model, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    exempt = {names[id(p)] for p in no_decay["params"]}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert "model.embed_tokens.weight" in exempt and "model.norm.weight" in exempt
    assert "model.layers.0.self_attn.q_proj.weight" in decayed
    assert all("norm" not in n and "embed" not in n for n in decayed)
    assert len(decayed) + len(exempt) == len({id(p) for p in model.parameters()})


def test_guarded_adamw_leaves_weights_alone_on_nan_gradients():
    w = torch.nn.Parameter(torch.ones(3))
    opt = GuardedAdamW([w], lr=0.1)
    w.grad = torch.tensor([1.0, float("nan"), 0.0])
    opt.step()
    assert opt.overflow and torch.equal(w.detach(), torch.ones(3)) and w.grad is None
    w.grad = torch.ones(3)
    opt.step()
    assert not opt.overflow and (w.detach() < 1).all()


@pytest.mark.parametrize("kind", ["cosine", "wsd", "constant"])
def test_schedules_warm_up_then_follow_their_shape(kind):
    s = LRSchedule(kind, warmup_steps=10, total_steps=100, min_lr_ratio=0.1, decay_fraction=0.2)
    assert s(0) == pytest.approx(0.1) and s(9) == pytest.approx(1.0)
    if kind == "cosine":
        assert s(55) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
        assert s(100) == pytest.approx(0.1)
    elif kind == "wsd":
        assert s(79) == 1.0 and s(90) == pytest.approx(0.55) and s(100) == pytest.approx(0.1)
    else:
        assert s(99) == 1.0


def test_activation_checkpointing_keeps_loss_and_gradients():
    torch.manual_seed(0)
    plain = build("gpt2-debug")
    wrapped = build("gpt2-debug")
    wrapped.load_state_dict(plain.state_dict())
    for m in (plain, wrapped):
        m.config.resid_pdrop = 0.0
        m.eval()
    assert apply_activation_checkpointing(wrapped) == 2
    ids = torch.randint(3, 512, (2, 16))
    losses = []
    for m in (plain, wrapped):
        loss = m(ids, labels=ids).loss
        loss.backward()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(losses[1], abs=1e-6)
    for p, q in zip(plain.parameters(), wrapped.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6)
