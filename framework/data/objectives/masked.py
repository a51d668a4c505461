"""BERT's masked LM over packed windows: [CLS] + window; 15% of the non-special tokens become
targets, of which 80% are replaced by [MASK], 10% by a random token and 10% kept. With
`whole_word`, words (a word-start token and its continuations) are chosen as a whole.
Randomness comes from each sample's key, so masking is reproducible across resumes and ranks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from framework.data.dataset import Sample
from framework.data.errors import DataError
from framework.data.objectives.common import count_targets, positions_from_documents, stack
from framework.models.common.losses import IGNORE_INDEX


class MaskedLMCollator:
    """Batches for `*ForMaskedLM`: input_ids, labels, attention_mask, token_type_ids, num_items.

    Args:
        seq_len: model input length; windows of seq_len - 1 tokens get [CLS] in front.
        mask_id, special_ids, vocab_size, cls_id: from the tokenizer (see `from_tokenizer`).
        mlm_probability: share of tokens that become targets.
        whole_word: select whole words; needs `word_start` (per vocabulary id: begins a word).
        document_mask: also return document_ids/position_ids for block-diagonal attention.
    """

    def __init__(self, seq_len: int, mask_id: int, special_ids: Sequence[int], vocab_size: int,
                 cls_id: int | None = None, mlm_probability: float = 0.15, whole_word: bool = False,
                 word_start: np.ndarray | None = None, document_mask: bool = False) -> None:
        if whole_word and word_start is None:
            raise DataError("whole-word masking needs the word_start table; build the collator with from_tokenizer.")
        self.seq_len = seq_len
        self.sample_length = seq_len - 1 if cls_id is not None else seq_len
        self.mask_id, self.cls_id, self.vocab_size = mask_id, cls_id, vocab_size
        self.special = np.zeros(vocab_size, dtype=bool)
        self.special[list(special_ids)] = True
        self.replacements = np.flatnonzero(~self.special)
        self.p = mlm_probability
        self.whole_word = whole_word
        self.word_start = word_start
        self.document_mask = document_mask

    @classmethod
    def from_tokenizer(cls, tok, seq_len: int, **kwargs) -> "MaskedLMCollator":
        if tok.mask_token_id is None:
            raise DataError("masked LM needs a tokenizer with a mask token (e.g. a WordPiece tokenizer's [MASK]).")
        return cls(seq_len, tok.mask_token_id, tok.all_special_ids, len(tok), cls_id=tok.cls_token_id,
                   word_start=word_start_table(tok), **kwargs)

    def __call__(self, samples: Sequence[Sample]) -> dict[str, torch.Tensor]:
        rows = [self._example(s) for s in samples]
        input_ids = stack([r[0] for r in rows])  # (B, L)
        labels = stack([r[1] for r in rows])
        batch = {"input_ids": input_ids, "labels": labels, "attention_mask": torch.ones_like(input_ids),
                 "token_type_ids": torch.zeros_like(input_ids)}
        if self.document_mask:
            docs = stack([r[2] for r in rows])
            batch["document_ids"] = docs
            batch["position_ids"] = positions_from_documents(docs)
        batch["num_items"] = self.num_items(labels)
        return batch

    num_items = staticmethod(count_targets)

    def _example(self, sample: Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tokens, docs = sample.tokens, sample.document_ids
        if self.cls_id is not None:
            tokens = np.concatenate([[self.cls_id], tokens])
            docs = np.concatenate([[0], docs])
        rng = sample.rng()
        special = self.special[tokens]
        chosen = self._choose(tokens, special, rng)
        labels = np.where(chosen, tokens, IGNORE_INDEX)
        roll = rng.random(len(tokens))
        inputs = tokens.copy()
        inputs[chosen & (roll < 0.8)] = self.mask_id
        swap = chosen & (roll >= 0.8) & (roll < 0.9)
        inputs[swap] = rng.choice(self.replacements, size=int(swap.sum()))
        return inputs, labels, docs

    def _choose(self, tokens: np.ndarray, special: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.whole_word:
            return (rng.random(len(tokens)) < self.p) & ~special
        starts = self.word_start[tokens] | special
        starts[1:] |= special[:-1]  # the token after a special one starts a word
        starts[0] = True
        word = np.cumsum(starts) - 1
        picked = rng.random(int(word[-1]) + 1) < self.p
        return picked[word] & ~special


def word_start_table(tok) -> np.ndarray:
    """Per vocabulary id: does this token begin a word? WordPiece marks continuations with '##';
    byte-level BPE marks word starts with 'Ġ' (a leading space), SentencePiece with '▁'."""
    vocab = tok.get_vocab()
    table = np.ones(len(tok), dtype=bool)
    tokens = list(vocab)
    if sum(t.startswith("##") for t in tokens) > len(tokens) // 20:
        for t, i in vocab.items():
            table[i] = not t.startswith("##")
        return table
    marker = "Ġ" if sum(t.startswith("Ġ") for t in tokens) >= sum(t.startswith("▁") for t in tokens) else "▁"
    for t, i in vocab.items():
        table[i] = t.startswith(marker) or not t[:1].isalnum()
    return table
