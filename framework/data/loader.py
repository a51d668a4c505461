"""Deterministic, resumable, distributed batching over a global sample cursor.

The training stream is an endless sequence of positions g = 0, 1, 2, ...; position g is sample
`perm_e[g % N]` of epoch e = g // N, where perm_e is a permutation seeded by (seed, e). One
global micro-step takes positions [cursor, cursor + world_size * micro_batch): rank r gets the
r-th slice of `micro_batch` positions, and every rank advances the cursor by the whole step.

So the order is a function of (seed, cursor) alone: a run resumed from `state_dict()` sees
exactly the batches it would have seen, and a run resumed on a different number of ranks
continues at the same cursor, neither repeating nor skipping samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from framework.data.dataset import Sample
from framework.data.errors import DataError
from framework.models.common.losses import IGNORE_INDEX

Collator = Callable[[Sequence[Sample]], dict[str, torch.Tensor]]


class PackedLoader:
    """Batches of `collator(samples)` for one rank, holding the global cursor.

    Args:
        dataset: a `PackedDataset` (anything with `__len__`, `get(i, epoch)`, `fingerprint()`).
        collator: an objective from `framework.data.objectives`.
        seed: shuffling (and objective randomness) seed.
        shuffle: permute each epoch; False reads samples in order.
    """

    def __init__(self, dataset, collator: Collator, seed: int = 0, shuffle: bool = True) -> None:
        self.dataset = dataset
        self.collator = collator
        self.seed = int(seed)
        self.shuffle = shuffle
        self.cursor = 0
        self._perm: tuple[int, np.ndarray] | None = None

    # -- order ----------------------------------------------------------------------------------
    def sample_at(self, position: int) -> Sample:
        """The sample at global stream position `position`, keyed for its objective's randomness."""
        n = len(self.dataset)
        epoch, i = divmod(position, n)
        sample = self.dataset.get(int(self._permutation(epoch)[i]) if self.shuffle else i, epoch)
        sample.key = (self.seed, position)
        return sample

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._perm is None or self._perm[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._perm = (epoch, rng.permutation(len(self.dataset)))
        return self._perm[1]

    @staticmethod
    def rank_slice(cursor: int, rank: int, world_size: int, micro_batch: int) -> range:
        if not 0 <= rank < world_size:
            raise DataError(f"rank {rank} is not in [0, {world_size}).")
        start = cursor + rank * micro_batch
        return range(start, start + micro_batch)

    # -- training -------------------------------------------------------------------------------
    def batches(self, rank: int = 0, world_size: int = 1, micro_batch: int = 1) -> Iterator[dict[str, torch.Tensor]]:
        """Endless micro-batches for `rank`; the cursor moves one global micro-step per batch."""
        while True:
            positions = self.rank_slice(self.cursor, rank, world_size, micro_batch)
            batch = self.collator([self.sample_at(g) for g in positions])
            self.cursor += world_size * micro_batch
            yield batch

    def state_dict(self) -> dict:
        return {"cursor": self.cursor, "seed": self.seed, "shuffle": self.shuffle,
                "num_samples": len(self.dataset), "fingerprint": self.dataset.fingerprint()}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Resume at `state['cursor']`; with `strict`, refuse a state from other data or seed."""
        if strict:
            mine = self.state_dict()
            for key in ("seed", "shuffle", "num_samples", "fingerprint"):
                if state.get(key) != mine[key]:
                    raise DataError(f"the checkpoint's data state has {key}={state.get(key)!r} but this run has "
                                    f"{mine[key]!r}: the data, sequence length, weights or seed changed. Restore "
                                    f"them, or resume with strict=False to keep only the cursor.")
        self.cursor = int(state["cursor"])

    # -- evaluation -----------------------------------------------------------------------------
    def eval_batches(self, rank: int = 0, world_size: int = 1,
                     micro_batch: int = 1) -> Iterator[dict[str, torch.Tensor]]:
        """Every sample exactly once, in order, split over ranks. The last step is filled with
        repeated samples whose labels are all ignored, so every rank gets as many full batches
        and the summed loss / summed `num_items` is independent of the world size."""
        n, step = len(self.dataset), world_size * micro_batch
        for cursor in range(0, -(-n // step) * step, step):
            positions = self.rank_slice(cursor, rank, world_size, micro_batch)
            samples = [self.dataset.get(g % n) for g in positions]
            for g, sample in zip(positions, samples):
                sample.key = (self.seed, g)
            batch = self.collator(samples)
            padding = torch.tensor([g >= n for g in positions])
            if padding.any():
                batch["labels"][padding] = IGNORE_INDEX
                batch["num_items"] = self.collator.num_items(batch["labels"])
            yield batch
