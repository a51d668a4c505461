"""Helpers shared by the objectives: stacking samples, positions from document ids, padding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from framework.models.common.losses import IGNORE_INDEX


def stack(arrays: Sequence[np.ndarray]) -> torch.Tensor:
    """(B, L) int64 tensor from equal-length arrays."""
    return torch.from_numpy(np.stack(arrays).astype(np.int64, copy=False))


def positions_from_documents(document_ids: torch.Tensor) -> torch.Tensor:
    """(B, L) document ids -> (B, L) positions that restart at 0 where each document starts."""
    B, L = document_ids.shape
    index = torch.arange(L, device=document_ids.device).expand(B, L)
    starts = torch.ones_like(document_ids, dtype=torch.bool)
    starts[:, 1:] = document_ids[:, 1:] != document_ids[:, :-1]
    start_of_doc = torch.where(starts, index, torch.zeros_like(index)).cummax(dim=1).values
    return index - start_of_doc


def count_targets(labels: torch.Tensor) -> torch.Tensor:
    return (labels != IGNORE_INDEX).sum()


def pad(rows: Sequence[Sequence[int]], value: int, multiple_of: int | None = None) -> torch.Tensor:
    """Right-pad lists of ids to the longest (rounded up to `multiple_of`) -> (B, L) int64."""
    length = max((len(r) for r in rows), default=0)
    if multiple_of:
        length = -(-length // multiple_of) * multiple_of
    out = torch.full((len(rows), length), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.as_tensor(list(row), dtype=torch.long)
    return out
