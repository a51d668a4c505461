import itertools

import numpy as np
import pytest
import torch

from framework.data.dataset import PackedDataset, Sample
from framework.data.errors import DataError
from framework.data.loader import PackedLoader
from framework.data.objectives import CausalLMCollator, MaskedLMCollator


class Numbered:
    """A dataset whose sample i holds the token i (so batches show which samples they hold)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def get(self, i: int, epoch: int = 0) -> Sample:
        return Sample(np.array([i, epoch]), np.zeros(2, np.int32))

    def fingerprint(self) -> str:
        return f"numbered-{self.n}"


def numbers(samples):
    return {"ids": torch.tensor([int(s.tokens[0]) for s in samples]), "labels": torch.zeros(len(samples), 2)}


def take(loader, steps, rank=0, world=1, mb=1):
    return [b["ids"].tolist() for b in itertools.islice(loader.batches(rank, world, mb), steps)]


def run_all_ranks(state, world, mb, steps, n=30, seed=7):
    """What every rank sees for `steps` global steps, resumed from `state`; returns (samples, state)."""
    seen, states = [], []
    for rank in range(world):
        loader = PackedLoader(Numbered(n), numbers, seed=seed)
        if state:
            loader.load_state_dict(state)
        seen.append(take(loader, steps, rank, world, mb))
        states.append(loader.state_dict())
    assert all(s == states[0] for s in states)  # every rank holds the same cursor
    flat = [x for step in range(steps) for rank in range(world) for x in seen[rank][step]]
    return flat, states[0]


def test_ranks_read_disjoint_slices_covering_each_epoch():
    flat, state = run_all_ranks(None, world=3, mb=2, steps=5)  # 30 samples = one epoch
    assert sorted(flat) == list(range(30))
    assert state["cursor"] == 30
    again, _ = run_all_ranks(None, world=3, mb=2, steps=5)
    assert again == flat  # a function of the seed
    other = PackedLoader(Numbered(30), numbers, seed=8)
    assert [x for b in take(other, 30) for x in b] != flat


def test_resume_sees_exactly_the_batches_it_would_have_seen():
    loader = PackedLoader(Numbered(30), numbers, seed=1)
    take(loader, 7, rank=1, world=2, mb=3)
    state = loader.state_dict()
    expected = take(loader, 6, rank=1, world=2, mb=3)  # runs into the next epoch
    resumed = PackedLoader(Numbered(30), numbers, seed=1)
    resumed.load_state_dict(state)
    assert take(resumed, 6, rank=1, world=2, mb=3) == expected


def test_resume_on_another_world_size_neither_repeats_nor_skips():
    reference, _ = run_all_ranks(None, world=1, mb=1, steps=60)  # two epochs, one rank
    first, state = run_all_ranks(None, world=4, mb=2, steps=3)  # 24 samples on 4 ranks
    rest, state = run_all_ranks(state, world=3, mb=4, steps=3)  # 36 more on 3 ranks
    assert first + rest == reference
    assert state["cursor"] == 60


def test_state_from_other_data_is_refused():
    loader = PackedLoader(Numbered(30), numbers, seed=1)
    take(loader, 2)
    state = loader.state_dict()
    with pytest.raises(DataError, match="fingerprint"):
        PackedLoader(Numbered(31), numbers, seed=1).load_state_dict({**state, "num_samples": 31})
    with pytest.raises(DataError, match="seed"):
        PackedLoader(Numbered(30), numbers, seed=2).load_state_dict(state)
    lenient = PackedLoader(Numbered(31), numbers, seed=1)
    lenient.load_state_dict(state, strict=False)
    assert lenient.cursor == 2
    with pytest.raises(DataError, match="rank 2"):
        next(loader.batches(rank=2, world_size=2))


def test_real_batches_resume_bit_for_bit(prepared):
    _, index_path = prepared
    collator = CausalLMCollator(32)
    loader = PackedLoader(PackedDataset(index_path, 32), collator, seed=3)
    stream = loader.batches(0, 2, 2)
    next(stream)
    state = loader.state_dict()
    expected = next(stream)
    resumed = PackedLoader(PackedDataset(index_path, 32), collator, seed=3)
    resumed.load_state_dict(state)
    got = next(resumed.batches(0, 2, 2))
    assert got.keys() == expected.keys()
    assert all(torch.equal(got[k], expected[k]) for k in got)


def test_masking_depends_on_the_sample_not_the_rank_or_batch(prepared):
    _, index_path = prepared
    collator = MaskedLMCollator(33, mask_id=3, special_ids=[0, 1, 2, 3], vocab_size=400, cls_id=1)
    ds = PackedDataset(index_path, collator.sample_length)
    one = next(PackedLoader(ds, collator, seed=5).batches(0, 1, 4))
    two = next(PackedLoader(ds, collator, seed=5).batches(1, 2, 2))  # rank 1 holds global samples 2, 3
    assert torch.equal(one["input_ids"][2:], two["input_ids"]) and torch.equal(one["labels"][2:], two["labels"])


def test_eval_batches_cover_every_sample_once_whatever_the_world_size(prepared):
    _, index_path = prepared
    collator = CausalLMCollator(16)
    val = PackedDataset(index_path, 16, split="validation")
    loader = PackedLoader(val, collator, shuffle=False)
    totals = {}
    for world, mb in [(1, 1), (3, 2), (2, 5)]:
        rows, items = [], 0
        for rank in range(world):
            for batch in loader.eval_batches(rank, world, mb):
                assert batch["input_ids"].shape == (mb, 16)
                items += int(batch["num_items"])
                rows += [r for r, keep in zip(batch["input_ids"].tolist(), (batch["labels"] != -100).any(1)) if keep]
        assert len(rows) == len(val)
        totals[(world, mb)] = items
    assert len(set(totals.values())) == 1 and totals[(1, 1)] == len(val) * 15
