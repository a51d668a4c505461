"""Checks to run before any compute: does the data fit the model?

`check_model_compatibility(model_config, tokenizer=..., index=..., seq_len=...)` raises a
clear error if the tokenizer's or the shards' vocabulary exceeds the model's embedding
table, if the shards were written by a different tokenizer, or if the sequence length exceeds
the model's position table.
"""

from __future__ import annotations

from pathlib import Path

from framework.data.errors import IncompatibleModelError, TokenizerMismatchError
from framework.data.shards import load_index
from framework.data.tokenizer import tokenizer_hash

_POSITION_KEYS = ("n_positions", "max_position_embeddings", "n_ctx")


def max_positions(config) -> int | None:
    """The longest sequence the model takes; None for relative positions (T5)."""
    if getattr(config, "model_type", None) == "t5":
        return None
    for key in _POSITION_KEYS:
        value = getattr(config, key, None)
        if value:
            return int(value)
    return None


def check_model_compatibility(config, tokenizer=None, index: str | Path | dict | None = None,
                              seq_len: int | None = None) -> None:
    name = getattr(config, "model_type", "model")
    vocab = int(config.vocab_size)
    if tokenizer is not None and len(tokenizer) > vocab:
        raise IncompatibleModelError(
            f"the tokenizer has {len(tokenizer)} tokens but the {name} model's vocab_size is {vocab}; ids >= "
            f"{vocab} would index past the embedding table. Set the model's vocab_size >= {len(tokenizer)} "
            f"or train a smaller tokenizer.")
    if index is not None:
        meta = load_index(index) if not isinstance(index, dict) else index
        _check_index(meta, vocab, name, tokenizer)
    limit = max_positions(config)
    if seq_len is not None and limit is not None and seq_len > limit:
        raise IncompatibleModelError(
            f"sequence length {seq_len} exceeds the {name} model's {limit} positions; lower the sequence "
            f"length to <= {limit} or use a model with more positions.")


def _check_index(meta: dict, vocab: int, name: str, tokenizer) -> None:
    shards_vocab = int(meta["tokenizer"]["vocab_size"])
    if shards_vocab > vocab:
        raise IncompatibleModelError(
            f"the shards were written with a {shards_vocab}-token vocabulary but the {name} model's vocab_size "
            f"is {vocab}; set vocab_size >= {shards_vocab}.")
    if tokenizer is not None and tokenizer_hash(tokenizer) != meta["tokenizer"]["hash"]:
        raise TokenizerMismatchError(
            f"the shards were written by tokenizer {meta['tokenizer']['hash']} ({meta['tokenizer'].get('path')}) "
            f"but this run uses tokenizer {tokenizer_hash(tokenizer)}; re-prepare the data with this tokenizer "
            f"or use the one that wrote them.")
