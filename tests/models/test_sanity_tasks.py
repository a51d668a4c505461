"""The seed notes' sanity task: tiny models learn `1 0 1 0 ...` and to copy a random sequence.

Each model trains (plain single-process AdamW: this tests the models, not the engine) until
greedy decoding is 100% right on a fresh batch, and must get there within a bounded number of
CPU steps.
"""

import pytest
import torch

from framework.generation import generate
from framework.models.registry import build, config_from_preset

V, L = 12, 8  # vocabulary: 0 pad, 1 eos/bos, 2 unused; the sequences use 3..11
CHECK_EVERY = 50
SMALL = {
    "transformer-debug": dict(vocab_size=V, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
                              forced_eos_token_id=None, dropout=0.0),
    "t5-debug": dict(vocab_size=V, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, dropout_rate=0.0),
    "gpt2-debug": dict(vocab_size=V, pad_token_id=0, bos_token_id=1, eos_token_id=1, resid_pdrop=0.0,
                       embd_pdrop=0.0, attn_pdrop=0.0),
    "llama-debug": dict(vocab_size=V, pad_token_id=0, bos_token_id=1, eos_token_id=1),
}


def _alternating(B: int) -> torch.Tensor:
    """(B, 2L) rows of `1 0 1 0 ...` written as tokens 3/4, each row starting at random."""
    start = torch.randint(0, 2, (B, 1))
    return 3 + (start + torch.arange(2 * L)) % 2


def _with_eos(x: torch.Tensor) -> torch.Tensor:
    """Sources end with EOS, as T5 and Marian tokenizers write them: it marks where the input ends."""
    return torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], 1)


def _seq2seq_batch(task: str, B: int) -> dict:
    if task == "alternate":
        seq = _alternating(B)
        return {"input_ids": _with_eos(seq[:, :L]), "labels": seq[:, L:].contiguous()}
    src = torch.randint(3, V, (B, L))
    return {"input_ids": _with_eos(src), "labels": src.clone()}


def _steps_to_perfect(model, batch, accuracy, max_steps: int, lr: float = 1e-3) -> int:
    """AdamW steps until `accuracy(model)` is 1.0 on two fresh batches in a row; max_steps + 1 if never."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    perfect = 0
    for step in range(1, max_steps + 1):
        model.train()
        loss = model(**batch(32)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % CHECK_EVERY == 0:
            perfect = perfect + 1 if accuracy(model) == 1.0 else 0
            if perfect == 2:
                return step
    return max_steps + 1


def _model(preset):
    torch.manual_seed(0)
    return build(config_from_preset(preset, **SMALL[preset]))


@pytest.mark.parametrize("preset, task, max_steps", [
    ("transformer-debug", "alternate", 1000), ("transformer-debug", "copy", 1000),
    ("t5-debug", "alternate", 1500), ("t5-debug", "copy", 2500),
])
def test_encoder_decoder_learns_to_100_percent(preset, task, max_steps):
    model = _model(preset)

    def accuracy(m):
        test = _seq2seq_batch(task, 64)
        out = generate(m, test["input_ids"], max_new_tokens=L, eos_token_id=[])
        return (out[:, 1:] == test["labels"]).float().mean().item()

    steps = _steps_to_perfect(model, lambda B: _seq2seq_batch(task, B), accuracy, max_steps)
    assert steps <= max_steps, f"{preset} did not reach 100% on '{task}' in {max_steps} steps ({accuracy(model):.3f})"


@pytest.mark.parametrize("preset", ["gpt2-debug", "llama-debug"])
def test_decoder_learns_to_continue_the_alternation(preset):
    model = _model(preset)

    def accuracy(m):
        seq = _alternating(32)
        out = generate(m, seq[:, :L], max_new_tokens=L, eos_token_id=[])
        return (out == seq).float().mean().item()

    def batch(B):
        seq = _alternating(B)
        return {"input_ids": seq, "labels": seq}

    steps = _steps_to_perfect(model, batch, accuracy, max_steps=600)
    assert steps <= 600, f"{preset} did not learn the alternation ({accuracy(model):.3f})"
