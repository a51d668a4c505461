"""The engine's view of a labelled dataset: the same methods as the pretraining `DataFeed`.

Examples are tokenised once, in memory. The order is a fresh seeded permutation per epoch, and a
global cursor (examples consumed by all ranks together) is the whole resumable state: rank r of
W takes examples [cursor + r*B, cursor + (r+1)*B) of the endless epoch-by-epoch order, then the
cursor moves by W*B. Batches are padded to their own longest example (dynamic padding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from framework.data.checks import check_model_compatibility
from framework.data.errors import DataError
from framework.models.tokenizer_files import copy_tokenizer_files


class FinetuneFeed:
    def __init__(self, task, train: list[dict], validation: list[dict], *, tokenizer_dir: str | None, seed: int,
                 rank: int, world_size: int, micro_batch: int) -> None:
        if not train:
            raise DataError("the train split has no examples left after tokenisation.")
        self.task, self.train, self.validation = task, train, validation
        self.tokenizer, self.tokenizer_dir = task.tokenizer, tokenizer_dir
        self.seed, self.rank, self.world_size, self.micro_batch = seed, rank, world_size, micro_batch
        self.cursor = 0
        self._orders: dict[int, np.ndarray] = {}

    # -- what the trainer calls -----------------------------------------------------------------
    def special_ids(self) -> dict[str, int | None]:
        tok = self.tokenizer
        return {"pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id}

    def check_model(self, config) -> None:
        check_model_compatibility(config, tokenizer=self.tokenizer, seq_len=self.task.cfg.data.max_length)

    def save_tokenizer(self, out: Path) -> None:
        src = self.tokenizer_dir
        if not (src is not None and Path(src).is_dir() and copy_tokenizer_files(Path(src), out)):
            self.tokenizer.save_pretrained(out)

    def next_batch(self) -> dict:
        start = self.cursor + self.rank * self.micro_batch
        examples = [self.train[self._index(p)] for p in range(start, start + self.micro_batch)]
        self.cursor += self.world_size * self.micro_batch
        return self.task.collate(examples)

    def state_dict(self) -> dict:
        return {"cursor": self.cursor, "seed": self.seed, "num_examples": len(self.train)}

    def load_state_dict(self, state: dict) -> None:
        if state.get("num_examples") != len(self.train) or state.get("seed") != self.seed:
            raise DataError(f"the checkpoint was trained on {state.get('num_examples')} examples with seed "
                            f"{state.get('seed')}, this run has {len(self.train)} with seed {self.seed}; resume "
                            f"with the same data and train.seed, or start a new run_dir.")
        self.cursor = int(state["cursor"])

    def has_validation(self) -> bool:
        return bool(self.validation)

    def validation_batches(self, limit: int):
        B = self.micro_batch
        for i in range(0, min(len(self.validation), limit * B), B):
            yield self.task.collate(self.validation[i:i + B])

    # -- order ----------------------------------------------------------------------------------
    def _index(self, position: int) -> int:
        epoch, offset = divmod(position, len(self.train))
        if epoch not in self._orders:
            self._orders = {epoch: np.random.default_rng([self.seed, epoch]).permutation(len(self.train))}
        return int(self._orders[epoch][offset])

    @property
    def epoch(self) -> float:
        return self.cursor / len(self.train)
