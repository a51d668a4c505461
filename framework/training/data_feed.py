"""The engine's view of the data layer: one object per rank that yields micro-batches.

It resolves the shards (preparing them from a data recipe on first use), picks the collator for
the objective, checks tokenizer/shards/model compatibility before any model work, and carries the
global sample cursor in and out of checkpoints.
"""

from __future__ import annotations

from pathlib import Path

import torch.distributed as dist

from framework import data
from framework.data.errors import DataError
from framework.models.tokenizer_files import copy_tokenizer_files
from framework.training.config import DataSection


def _gather(value) -> list:
    """`value` from every rank (just [value] without a process group)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [value]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


class DataFeed:
    def __init__(self, section: DataSection, *, seed: int, rank: int, world_size: int, micro_batch: int) -> None:
        self.section = section
        self.rank, self.world_size, self.micro_batch = rank, world_size, micro_batch
        self.index_path = self._ensure_prepared(Path(section.path) / "index.json")
        index = data.load_index(self.index_path)
        self.tokenizer_path = Path(section.tokenizer or index["tokenizer"]["path"])
        self.tokenizer = data.load_tokenizer(self.tokenizer_path)
        self.collator = self._collator()
        train = data.PackedDataset(self.index_path, self.collator.sample_length, split="train")
        if len(train) == 0:
            raise DataError(f"{self.index_path}: the train split has no sample of {self.collator.sample_length} "
                            f"tokens; prepare more data or lower data.seq_len.")
        self.loader = data.PackedLoader(train, self.collator, seed=seed)
        self._batches = None
        self._validation = self._validation_loader(seed)

    def _ensure_prepared(self, index_path: Path) -> Path:
        """Every rank says whether it sees the shards; only a single-node job may prepare them."""
        import socket

        seen = _gather((socket.gethostname(), index_path.exists()))
        if all(exists for _, exists in seen):
            return index_path
        if not self.section.recipe:
            raise DataError(f"no prepared data at {index_path}. Run `framework data prepare RECIPE` with "
                            f"prepare.out_dir={self.section.path}, or set data.recipe to prepare it first.")
        if len({host for host, _ in seen}) > 1:
            raise DataError(f"no prepared data at {index_path} on every node of this multi-node job; preparing "
                            f"it from one rank would assume a shared filesystem. Run `framework data prepare "
                            f"{self.section.recipe}` (or a Slurm array of it) where every node can read it first.")
        if self.rank == 0:
            recipe = data.load_recipe(self.section.recipe, [f"prepare.out_dir={self.section.path}"])
            if not recipe.tokenizer.pretrained:
                data.train_from_recipe(recipe)
            data.prepare(recipe)
        if dist.is_available() and dist.is_initialized():
            dist.barrier()
        return index_path

    def _collator(self):
        s, tok = self.section, self.tokenizer
        if s.objective == "causal-lm":
            return data.CausalLMCollator(s.seq_len, document_mask=s.document_mask)
        if s.objective == "masked-lm":
            return data.MaskedLMCollator.from_tokenizer(tok, s.seq_len, mlm_probability=s.mlm_probability,
                                                        whole_word=s.whole_word_mask)
        return data.SpanCorruptionCollator.from_tokenizer(tok, s.seq_len, noise_density=s.noise_density,
                                                          mean_span_length=s.mean_span_length)

    def _validation_loader(self, seed: int):
        try:
            val = data.PackedDataset(self.index_path, self.collator.sample_length, split="validation")
        except DataError:
            return None
        return data.PackedLoader(val, self.collator, seed=seed, shuffle=False) if len(val) else None

    # -- what the trainer calls -----------------------------------------------------------------
    def special_ids(self) -> dict[str, int | None]:
        tok = self.tokenizer
        eos = tok.eos_token_id if tok.eos_token_id is not None else tok.sep_token_id
        ids = {"pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id, "eos_token_id": eos}
        if self.section.objective == "span-corruption":
            ids["decoder_start_token_id"] = tok.pad_token_id
        return ids

    def check_model(self, config) -> None:
        data.check_model_compatibility(config, tokenizer=self.tokenizer, index=self.index_path,
                                       seq_len=self.section.seq_len)

    def save_tokenizer(self, out: Path) -> None:
        copy_tokenizer_files(self.tokenizer_path, out)

    def next_batch(self) -> dict:
        if self._batches is None:
            self._batches = self.loader.batches(self.rank, self.world_size, self.micro_batch)
        return next(self._batches)

    def state_dict(self) -> dict:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state)
        self._batches = None

    def has_validation(self) -> bool:
        return self._validation is not None

    def validation_batches(self, limit: int):
        for i, batch in enumerate(self._validation.eval_batches(self.rank, self.world_size, self.micro_batch)):
            if i >= limit:
                return
            yield batch
