"""Helpers for parity tests against stock transformers (fp32, CPU)."""

from __future__ import annotations

from pathlib import Path

import torch

import framework

TOL = 1e-4


def padded_batch(vocab_size: int, B: int = 3, L: int = 12, pad_id: int = 0, left: bool = False, seed: int = 0):
    """Random ids with a different amount of padding per row; returns (input_ids, attention_mask)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab_size, (B, L), generator=g)
    mask = torch.ones(B, L, dtype=torch.long)
    for row in range(1, B):
        n_pad = 2 * row
        if left:
            mask[row, :n_pad] = 0
        else:
            mask[row, L - n_pad:] = 0
    return ids.masked_fill(mask == 0, pad_id), mask


def max_diff(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Largest absolute difference, over real (non-padding) positions when a (B, L) mask is given."""
    if mask is not None:
        keep = mask.bool()
        a, b = a[keep], b[keep]
    return (a - b).abs().max().item()


def import_stock(stock_model, tmp_path: Path):
    """Save a stock model and load it through the zoo."""
    stock_model.save_pretrained(tmp_path / "stock")
    return framework.load(tmp_path / "stock")


def export_to_stock(zoo_model, auto_cls, tmp_path: Path):
    """Save a zoo model and load it with a stock Auto class; asserts nothing missing/unexpected."""
    zoo_model.save_pretrained(tmp_path / "ours")
    files = sorted(p.name for p in (tmp_path / "ours").iterdir())
    assert not any(f.endswith((".bin", ".pt", ".pth")) for f in files), files
    stock, info = auto_cls.from_pretrained(tmp_path / "ours", output_loading_info=True)
    problems = {k: v for k, v in info.items() if v and k != "mismatched_keys" or (k == "mismatched_keys" and v)}
    assert not problems, problems
    return stock.eval()
