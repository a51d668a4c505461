"""Causal LM over packed windows: labels are the inputs (the model shifts them). With
`document_mask`, position ids restart at each document and `document_ids` make the model's
attention block-diagonal (causal within a document, nothing across documents)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from framework.data.dataset import Sample
from framework.data.objectives.common import count_targets, positions_from_documents, stack


class CausalLMCollator:
    """Batches for `*ForCausalLM`: input_ids, labels, [position_ids, document_ids], num_items."""

    def __init__(self, seq_len: int, document_mask: bool = True) -> None:
        self.seq_len = seq_len
        self.sample_length = seq_len
        self.document_mask = document_mask

    def __call__(self, samples: Sequence[Sample]) -> dict[str, torch.Tensor]:
        input_ids = stack([s.tokens for s in samples])  # (B, L)
        batch = {"input_ids": input_ids, "labels": input_ids.clone()}
        if self.document_mask:
            docs = stack([s.document_ids for s in samples])
            batch["document_ids"] = docs
            batch["position_ids"] = positions_from_documents(docs)
        batch["num_items"] = self.num_items(batch["labels"])
        return batch

    @staticmethod
    def num_items(labels: torch.Tensor) -> torch.Tensor:
        """Targets the loss sums over: every label after the first position (next-token)."""
        return count_targets(labels[:, 1:])
