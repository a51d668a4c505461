"""Running our `generate` and stock `generate` side by side."""

from __future__ import annotations

import torch

from framework.generation import generate
from tests.generation.tiny_models import Pair

MAX_NEW = 12

# name -> settings, given identically to both implementations
SEARCH_CASES = {
    "greedy": {},
    "beam3": dict(num_beams=3),
    "beam3-early": dict(num_beams=3, early_stopping=True),
    "beam4-lp2-early": dict(num_beams=4, length_penalty=2.0, early_stopping=True),
    "beam4-lp0.5": dict(num_beams=4, length_penalty=0.5),
    "beam3-lp2-never": dict(num_beams=3, length_penalty=2.0, early_stopping="never"),
    "ngram-greedy": dict(no_repeat_ngram_size=2),
    "ngram-beam": dict(num_beams=3, no_repeat_ngram_size=2),
    "min-new-greedy": dict(min_new_tokens=5),
    "min-new-beam": dict(num_beams=3, min_new_tokens=5),
}


def both(pair: Pair, ids: torch.Tensor, mask: torch.Tensor | None, **settings) -> tuple[torch.Tensor, torch.Tensor]:
    """(ours, stock) outputs for the same inputs and settings."""
    settings.setdefault("max_new_tokens", MAX_NEW)
    ours = generate(pair.ours, ids, mask, **settings)
    with torch.no_grad():
        stock = pair.stock.generate(ids, attention_mask=mask, do_sample=False, **settings)
    return ours, stock


def assert_same(ours: torch.Tensor, stock: torch.Tensor) -> None:
    assert ours.shape == stock.shape and torch.equal(ours, stock), f"\nours:  {ours.tolist()}\nstock: {stock.tolist()}"


def ends_early(sequences: torch.Tensor, start: int, eos: int) -> bool:
    """Some row emits EOS before the last column while the batch goes on (EOS really stopped it)."""
    return bool((sequences[:, start:-1] == eos).any())


def both_counting_calls(pair: Pair, ids: torch.Tensor, mask: torch.Tensor | None,
                        **settings) -> tuple[torch.Tensor, torch.Tensor, dict[str, int]]:
    """`both`, also counting each model's forward calls (decoding steps; encoders run apart)."""
    calls = {"ours": 0, "stock": 0}

    def counter(name: str):
        def hook(*_) -> None:
            calls[name] += 1
        return hook

    hooks = [pair.ours.register_forward_hook(counter("ours")), pair.stock.register_forward_hook(counter("stock"))]
    try:
        ours, stock = both(pair, ids, mask, **settings)
    finally:
        for hook in hooks:
            hook.remove()
    return ours, stock, calls
