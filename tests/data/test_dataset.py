import json
import shutil

import numpy as np
import pytest

from framework.data.dataset import PackedDataset
from framework.data.errors import CorruptShardError, DataError
from framework.data.shards import verify_index

L = 64


def source_stream(index_path, source: str) -> np.ndarray:
    index = json.loads(index_path.read_text())
    files = [s["file"] for s in index["shards"] if s["source"] == source and s["split"] == "train"]
    return np.concatenate([np.fromfile(index_path.parent / f, dtype=index["dtype"]) for f in files])


@pytest.fixture
def copy_of(prepared, tmp_path):
    _, index_path = prepared
    shutil.copytree(index_path.parent, tmp_path / "shards")
    return tmp_path / "shards" / "index.json"


def test_windows_tile_each_source_stream(prepared):
    _, index_path = prepared
    natural = PackedDataset(index_path, L, weights={"fineweb": 1, "notes": 1})
    windows = natural.windows.tolist()
    ds = PackedDataset(index_path, L, weights={"fineweb": windows[0], "notes": windows[1]})
    assert ds.per_epoch.tolist() == windows  # weights proportional to size: every window once
    for s, name in enumerate(["fineweb", "notes"]):
        stream = source_stream(index_path, name)
        got = np.concatenate([ds[int(ds.offsets[s]) + w].tokens for w in range(windows[s])])
        assert np.array_equal(got, stream[: windows[s] * L])


def test_document_ids_restart_after_each_eos(prepared):
    _, index_path = prepared
    eos = json.loads(index_path.read_text())["tokenizer"]["eos_id"]
    ds = PackedDataset(index_path, L)
    boundaries = 0
    for i in range(len(ds)):
        s = ds[i]
        step = np.diff(s.document_ids)
        assert set(step.tolist()) <= {0, 1} and s.document_ids[0] == 0
        assert np.array_equal(step == 1, s.tokens[:-1] == eos)  # a new document begins right after eos
        boundaries += int(step.sum())
    assert boundaries > 0


def test_weights_set_each_sources_share_and_epochs_rotate_a_subsampled_source(prepared):
    _, index_path = prepared
    ds = PackedDataset(index_path, L)  # the recipe's 3:1
    share = ds.per_epoch / ds.per_epoch.sum()
    assert abs(share[0] - 0.75) < 0.03
    sub = PackedDataset(index_path, L, weights={"fineweb": 0.001, "notes": 1})
    assert sub.per_epoch[0] == 1  # one fineweb window per epoch, a different one each epoch
    first = [sub.get(0, epoch=e).tokens for e in range(3)]
    assert not np.array_equal(first[0], first[1]) and not np.array_equal(first[1], first[2])
    up = PackedDataset(index_path, L, weights={"fineweb": 1, "notes": 100})
    n = int(up.windows[1])
    assert up.per_epoch[1] > n  # the small source repeats
    assert np.array_equal(up[int(up.offsets[1])].tokens, up[int(up.offsets[1]) + n].tokens)


def test_validation_split_and_fingerprint(prepared):
    _, index_path = prepared
    val = PackedDataset(index_path, 16, split="validation")
    train = PackedDataset(index_path, 16)
    assert len(val) > 0 and val.fingerprint() != train.fingerprint()
    assert PackedDataset(index_path, 16).fingerprint() == train.fingerprint()
    assert PackedDataset(index_path, 32).fingerprint() != train.fingerprint()


def test_too_long_a_sequence_for_the_data(prepared):
    _, index_path = prepared
    with pytest.raises(DataError, match="fewer than one sample"):
        PackedDataset(index_path, 10**7, split="validation")
    with pytest.raises(DataError, match="unknown sources"):
        PackedDataset(index_path, L, weights={"wiki": 1.0})
    with pytest.raises(DataError, match="positive total"):
        PackedDataset(index_path, L, weights={"fineweb": 0, "notes": 0})


def test_truncated_shard_is_caught_at_open(copy_of):
    shard = sorted(copy_of.parent.glob("*.train.bin"))[0]
    shard.write_bytes(shard.read_bytes()[:-2])
    with pytest.raises(CorruptShardError, match="truncated"):
        PackedDataset(copy_of, L)


def test_corrupted_shard_fails_its_checksum(copy_of):
    shard = sorted(copy_of.parent.glob("*.train.bin"))[0]
    data = bytearray(shard.read_bytes())
    data[10] ^= 0xFF
    shard.write_bytes(bytes(data))
    PackedDataset(copy_of, L, verify="size")  # same size: only the checksum sees it
    with pytest.raises(CorruptShardError, match="sha256"):
        PackedDataset(copy_of, L)
    with pytest.raises(CorruptShardError, match="sha256"):
        verify_index(copy_of)


def test_missing_shard_and_out_of_vocabulary_ids(copy_of):
    shards = sorted(copy_of.parent.glob("*.train.bin"))
    np.full(shards[1].stat().st_size // 2, 65535, np.uint16).tofile(shards[1])
    ds = PackedDataset(copy_of, L, verify="size")
    with pytest.raises(CorruptShardError, match="vocab size"):
        [ds[i] for i in range(len(ds))]
    shards[0].unlink()
    with pytest.raises(CorruptShardError, match="missing"):
        PackedDataset(copy_of, L)


def test_not_an_index(tmp_path):
    (tmp_path / "index.json").write_text('{"hello": 1}')
    with pytest.raises(DataError, match="not a prepared-data index"):
        PackedDataset(tmp_path / "index.json", L)
    with pytest.raises(DataError, match="does not exist"):
        PackedDataset(tmp_path / "nope.json", L)
