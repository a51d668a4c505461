"""Fine-tuning batches with dynamic padding: each batch is padded to its own longest example
(optionally rounded up to a multiple, for tensor cores), not to a fixed length."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from framework.data.objectives.common import count_targets, pad
from framework.models.common.losses import IGNORE_INDEX


class Seq2SeqCollator:
    """Examples {input_ids, labels} -> input_ids, attention_mask, labels (-100 padded),
    decoder_input_ids (labels shifted right after `decoder_start_id`), num_items."""

    def __init__(self, pad_id: int, decoder_start_id: int | None = None, pad_to_multiple_of: int | None = None) -> None:
        self.pad_id = pad_id
        self.decoder_start_id = pad_id if decoder_start_id is None else decoder_start_id
        self.multiple = pad_to_multiple_of

    def __call__(self, examples: Sequence[Mapping]) -> dict[str, torch.Tensor]:
        input_ids = pad([e["input_ids"] for e in examples], self.pad_id, self.multiple)
        attention_mask = pad([[1] * len(e["input_ids"]) for e in examples], 0, self.multiple)
        labels = pad([e["labels"] for e in examples], IGNORE_INDEX, self.multiple)
        start = torch.full_like(labels[:, :1], self.decoder_start_id)
        shifted = torch.cat([start, labels[:, :-1]], dim=1)
        decoder_input_ids = shifted.masked_fill(shifted == IGNORE_INDEX, self.pad_id)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels,
                "decoder_input_ids": decoder_input_ids, "num_items": self.num_items(labels)}

    num_items = staticmethod(count_targets)


class ClassificationCollator:
    """Examples {input_ids, [token_type_ids], label} -> input_ids, attention_mask,
    [token_type_ids], labels, num_items (= examples). Integer labels give a long tensor
    (single-label); floats or lists of floats a float tensor (regression, multi-label)."""

    def __init__(self, pad_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_id = pad_id
        self.multiple = pad_to_multiple_of

    def __call__(self, examples: Sequence[Mapping]) -> dict[str, torch.Tensor]:
        batch = {"input_ids": pad([e["input_ids"] for e in examples], self.pad_id, self.multiple),
                 "attention_mask": pad([[1] * len(e["input_ids"]) for e in examples], 0, self.multiple)}
        if "token_type_ids" in examples[0]:
            batch["token_type_ids"] = pad([e["token_type_ids"] for e in examples], 0, self.multiple)
        labels = [e["label"] for e in examples]
        is_int = all(isinstance(x, int) and not isinstance(x, bool) for x in labels)
        batch["labels"] = torch.tensor(labels, dtype=torch.long if is_int else torch.float)
        batch["num_items"] = self.num_items(batch["labels"])
        return batch

    @staticmethod
    def num_items(labels: torch.Tensor) -> torch.Tensor:
        return torch.tensor(labels.shape[0])
