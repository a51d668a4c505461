"""T5 span corruption: 15% of a window's tokens, in spans of mean length 3, are each replaced in
the inputs by one sentinel (<extra_id_0>, <extra_id_1>, ...); the targets list each sentinel
followed by the tokens it hid. The raw window length is computed (as in T5) so that inputs
come out exactly `input_length` long and targets `target_length`: packed examples fill the
context with no padding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from framework.data.dataset import Sample
from framework.data.errors import DataError
from framework.data.objectives.common import count_targets, stack
from framework.data.tokenizer import sentinel_ids as tokenizer_sentinels


def _lengths(tokens_length: int, noise_density: float, mean_span: float) -> tuple[int, int]:
    noise = int(round(tokens_length * noise_density))
    spans = int(round(noise / mean_span))
    return tokens_length - noise + spans + 1, noise + spans + 1


def compute_input_and_target_lengths(input_length: int, noise_density: float = 0.15,
                                     mean_span: float = 3.0) -> tuple[int, int]:
    """(raw tokens per example, target length) for inputs of exactly `input_length` (eos included)."""
    tokens_length = input_length
    while _lengths(tokens_length + 1, noise_density, mean_span)[0] <= input_length:
        tokens_length += 1
    _, targets = _lengths(tokens_length, noise_density, mean_span)
    return tokens_length, targets


def random_spans_noise_mask(length: int, noise_density: float, mean_span: float,
                            rng: np.random.Generator) -> np.ndarray:
    """(length,) bool: True for noise. Alternates non-noise / noise spans, starting non-noise."""
    noise = min(max(int(round(length * noise_density)), 1), length - 1)
    spans = max(int(round(min(noise, length - noise) / mean_span)), 1)

    def segment(total: int) -> np.ndarray:  # `spans` random positive lengths summing to total
        cuts = np.sort(rng.choice(np.arange(1, total), size=spans - 1, replace=False))
        return np.diff(np.concatenate([[0], cuts, [total]]))

    interleaved = np.stack([segment(length - noise), segment(noise)], axis=1).reshape(-1)
    starts = np.zeros(length, dtype=np.int64)
    starts[np.cumsum(interleaved)[:-1]] = 1
    return np.cumsum(starts) % 2 == 1


def _replace_spans(tokens: np.ndarray, mask: np.ndarray, sentinels: np.ndarray) -> np.ndarray:
    """Each run of masked tokens becomes the next sentinel; unmasked tokens are kept."""
    first = mask & ~np.concatenate([[False], mask[:-1]])
    out = np.where(first, sentinels[np.cumsum(first) - 1], tokens)
    return out[~mask | first]


class SpanCorruptionCollator:
    """Batches for T5: input_ids, attention_mask, labels, decoder_input_ids, num_items."""

    def __init__(self, input_length: int, sentinel_ids: Sequence[int], eos_id: int, pad_id: int,
                 noise_density: float = 0.15, mean_span_length: float = 3.0,
                 decoder_start_id: int | None = None) -> None:
        self.input_length = input_length
        self.sample_length, self.target_length = compute_input_and_target_lengths(
            input_length, noise_density, mean_span_length)
        noise = int(round(self.sample_length * noise_density))
        spans = max(int(round(min(noise, self.sample_length - noise) / mean_span_length)), 1)
        if spans > len(sentinel_ids):
            raise DataError(f"span corruption of {self.sample_length} tokens makes {spans} spans but the tokenizer "
                            f"has {len(sentinel_ids)} sentinels; train it with tokenizer.extra_ids >= {spans}.")
        self.sentinels = np.asarray(sentinel_ids, dtype=np.int64)
        self.eos_id, self.pad_id = eos_id, pad_id
        self.decoder_start_id = pad_id if decoder_start_id is None else decoder_start_id
        self.noise_density, self.mean_span = noise_density, mean_span_length

    @classmethod
    def from_tokenizer(cls, tok, input_length: int, **kwargs) -> "SpanCorruptionCollator":
        return cls(input_length, tokenizer_sentinels(tok), tok.eos_token_id, tok.pad_token_id, **kwargs)

    def __call__(self, samples: Sequence[Sample]) -> dict[str, torch.Tensor]:
        pairs = [self._example(s) for s in samples]
        input_ids = stack([p[0] for p in pairs])  # (B, input_length)
        labels = stack([p[1] for p in pairs])  # (B, target_length)
        decoder_input_ids = torch.cat([torch.full_like(labels[:, :1], self.decoder_start_id), labels[:, :-1]], 1)
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels,
                "decoder_input_ids": decoder_input_ids, "num_items": self.num_items(labels)}

    num_items = staticmethod(count_targets)

    def _example(self, sample: Sample) -> tuple[np.ndarray, np.ndarray]:
        mask = random_spans_noise_mask(len(sample.tokens), self.noise_density, self.mean_span, sample.rng())
        eos = [self.eos_id]
        inputs = np.concatenate([_replace_spans(sample.tokens, mask, self.sentinels), eos])
        targets = np.concatenate([_replace_spans(sample.tokens, ~mask, self.sentinels), eos])
        return inputs, targets
