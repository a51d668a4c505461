"""`PackedDataset`: fixed-length windows over memory-mapped token shards, mixed by source weight.

Each source's shards (in index order) form one token stream; window w of a source is tokens
[w*n, (w+1)*n) of that stream, so documents are packed back to back and split across windows.
With weights, an epoch of `len(dataset)` samples takes round(weight * total) windows from
each source: a small source is repeated, a large one is subsampled (a different part in each
epoch). Everything is derived from `index.json` and the shards at open time: no caches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from framework.data.errors import CorruptShardError, DataError
from framework.data.shards import check_shard, load_index, open_shard


@dataclass
class Sample:
    """A window of the token stream. `document_ids` number the documents inside it from 0;
    `key` = (seed, global position) seeds an objective's randomness (masking, noise), so a
    sample is the same whichever rank, batch size or resumed run draws it."""

    tokens: np.ndarray  # (n,) int64
    document_ids: np.ndarray  # (n,) int32
    key: tuple[int, ...] = field(default=(0, 0))

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(self.key)


class SourceStream:
    """One source's shards of one split, read as a single stream of tokens."""

    def __init__(self, root: Path, shards: list[dict], dtype: np.dtype) -> None:
        shards = [s for s in shards if s["num_tokens"] > 0]
        self.arrays = [open_shard(root, s, dtype) for s in shards]
        sizes = np.array([s["num_tokens"] for s in shards], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        doc_starts = [np.asarray(s["doc_offsets"], dtype=np.int64) + base for s, base in zip(shards, self.starts)]
        self.doc_starts = np.concatenate(doc_starts) if doc_starts else np.zeros(0, np.int64)
        self.num_tokens = int(self.starts[-1])

    def read(self, start: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        end = start + length
        k = int(np.searchsorted(self.starts, start, side="right")) - 1
        pieces, pos = [], start
        while pos < end:
            lo = pos - self.starts[k]
            hi = min(end - self.starts[k], len(self.arrays[k]))
            pieces.append(self.arrays[k][lo:hi])
            pos += hi - lo
            k += 1
        tokens = np.concatenate(pieces).astype(np.int64)
        first, last = np.searchsorted(self.doc_starts, [start, end], side="right")
        inner = self.doc_starts[first:last]
        inner = inner[inner < end] - start  # documents starting inside the window, after its first token
        marks = np.zeros(length, dtype=np.int32)
        marks[inner] = 1
        return tokens, np.cumsum(marks, dtype=np.int32)


class PackedDataset:
    """Windows of `seq_len` tokens from the `split` of the prepared data at `index_path`.

    Args:
        index_path: the `index.json` written by `framework data prepare`.
        seq_len: tokens per sample (an objective's `sample_length`).
        split: `train` or `validation`.
        verify: `checksum` re-hashes every shard (catches corruption), `size` only checks sizes.
        weights: source name -> weight, replacing the recipe's (train split only).
    """

    def __init__(self, index_path: str | Path, seq_len: int, split: Literal["train", "validation"] = "train",
                 verify: Literal["checksum", "size"] = "checksum", weights: dict[str, float] | None = None) -> None:
        self.path = Path(index_path)
        self.index = load_index(self.path)
        self.seq_len = int(seq_len)
        self.split = split
        self.dtype = np.dtype(self.index["dtype"])
        self.vocab_size = int(self.index["tokenizer"]["vocab_size"])
        self.tokenizer_hash = self.index["tokenizer"]["hash"]
        self._check(verify)
        names = [s["name"] for s in self.index["sources"]]
        self.streams = [SourceStream(self.path.parent, self._shards(n), self.dtype) for n in names]
        self.windows = np.array([s.num_tokens // self.seq_len for s in self.streams], dtype=np.int64)
        self.weights = self._weights(names, weights)
        self.per_epoch = self._per_epoch(names)
        self.offsets = np.concatenate([[0], np.cumsum(self.per_epoch)]).astype(np.int64)

    def _shards(self, source: str) -> list[dict]:
        return [s for s in self.index["shards"] if s["source"] == source and s["split"] == self.split]

    def _check(self, verify: str) -> None:
        if self.split not in ("train", "validation"):
            raise DataError(f"split must be 'train' or 'validation', got '{self.split}'.")
        for shard in self.index["shards"]:
            if shard["split"] == self.split:
                check_shard(self.path.parent, shard, self.dtype.itemsize, checksum=verify == "checksum")

    def _weights(self, names: list[str], override: dict[str, float] | None) -> np.ndarray:
        given = override or {s["name"]: s["weight"] for s in self.index["sources"]}
        unknown = set(given) - set(names)
        if unknown:
            raise DataError(f"weights name unknown sources {sorted(unknown)}; the index has {names}.")
        w = np.array([float(given.get(n, 0.0)) for n in names])
        if w.sum() <= 0 or (w < 0).any():
            raise DataError(f"source weights must be >= 0 with a positive total, got {given}.")
        return w / w.sum()

    def _per_epoch(self, names: list[str]) -> np.ndarray:
        total = int(self.windows.sum())
        if total == 0:
            tokens = sum(s.num_tokens for s in self.streams)
            raise DataError(f"the {self.split} split of {self.path} has {tokens} tokens, fewer than one sample of "
                            f"{self.seq_len}; prepare more data or use a shorter sequence.")
        if self.split != "train":
            return self.windows  # evaluation reads every window once, no mixing
        starved = [n for n, w, k in zip(names, self.weights, self.windows) if w > 0 and k == 0]
        if starved:
            raise DataError(f"sources {starved} have fewer than {self.seq_len} training tokens but a weight > 0; "
                            f"give them weight 0 or prepare more data.")
        return np.maximum(np.rint(self.weights * total), (self.weights > 0).astype(np.int64)).astype(np.int64)

    def __len__(self) -> int:
        """Samples per epoch."""
        return int(self.offsets[-1])

    def __getitem__(self, i: int) -> Sample:
        return self.get(i)

    def get(self, i: int, epoch: int = 0) -> Sample:
        """Sample `i` of epoch `epoch` (epochs differ only in which windows a subsampled source gives)."""
        if not 0 <= i < len(self):
            raise IndexError(f"sample {i} out of range [0, {len(self)}).")
        s = int(np.searchsorted(self.offsets, i, side="right")) - 1
        window = (i - int(self.offsets[s]) + epoch * int(self.per_epoch[s])) % int(self.windows[s])
        tokens, docs = self.streams[s].read(window * self.seq_len, self.seq_len)
        if tokens.size and int(tokens.max()) >= self.vocab_size:
            raise CorruptShardError(f"{self.path}: source '{self.index['sources'][s]['name']}' holds token id "
                                    f"{int(tokens.max())} >= vocab size {self.vocab_size}; its shards are corrupted.")
        return Sample(tokens, docs)

    def fingerprint(self) -> str:
        """Identifies what the samples are: shards, tokenizer, length, split and weights."""
        parts = [self.tokenizer_hash, self.seq_len, self.split, [round(float(w), 12) for w in self.weights],
                 [s["sha256"] for s in self.index["shards"] if s["split"] == self.split]]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
