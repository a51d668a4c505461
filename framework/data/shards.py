"""The on-disk format of prepared data.

    out_dir/
      plan.json                         what is being prepared: tokenizer, sources, units
      <source>-<unit>-<chunk>.train.bin flat token ids (uint16 when the vocabulary fits, else uint32)
      <source>-<unit>-<chunk>.validation.bin
      <source>-<unit>-<chunk>.json      the chunk's manifest: per split, tokens, document offsets, sha256
      units/<source>-<unit>.json        a finished input unit: its chunks and read statistics
      index.json                        the merged index the training side opens

Every document is followed by eos, so documents are contiguous runs in the flat arrays and
`doc_offsets` are their start positions. A chunk counts as done when its manifest exists and
its .bin files have the recorded sizes; manifests are written last, after the data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from framework.data.errors import CorruptShardError, DataError
from framework.data.io import atomic_path, file_sha256, read_json, write_json

FORMAT = "framework-packed-tokens"
VERSION = 1
SPLITS = ("train", "validation")


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


def write_split(out_dir: Path, chunk: str, split: str, tokens: np.ndarray, lengths: np.ndarray,
                dtype: np.dtype) -> dict:
    """Write one split of a chunk as a flat array; return its manifest entry."""
    data = np.ascontiguousarray(tokens, dtype=dtype)
    file = f"{chunk}.{split}.bin"
    with atomic_path(out_dir / file) as tmp:
        data.tofile(tmp)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
    return {"file": file, "num_tokens": int(data.size), "num_documents": int(len(lengths)),
            "doc_offsets": offsets.astype(np.int64).tolist(), "sha256": hashlib.sha256(data.data).hexdigest()}


def chunk_done(out_dir: Path, chunk: str, itemsize: int) -> bool:
    manifest = out_dir / f"{chunk}.json"
    if not manifest.exists():
        return False
    entries = read_json(manifest, "chunk manifest")["splits"].values()
    return all(_size_ok(out_dir / e["file"], e["num_tokens"] * itemsize) for e in entries)


def _size_ok(path: Path, expected: int) -> bool:
    return path.exists() and path.stat().st_size == expected


# -- reading and checking ---------------------------------------------------------------------
def load_index(path: str | Path) -> dict:
    index = read_json(path, "data index")
    if index.get("format") != FORMAT:
        raise DataError(f"{path} is not a prepared-data index (format {index.get('format')!r}); "
                        f"point at the index.json written by `framework data prepare`.")
    if index.get("version") != VERSION:
        raise DataError(f"{path} has index version {index.get('version')}; this framework reads {VERSION}. "
                        f"Re-run `framework data prepare`.")
    return index


def check_shard(root: Path, shard: dict, itemsize: int, checksum: bool) -> None:
    """Raise CorruptShardError if the shard is missing, truncated, or (with checksum) altered."""
    path = root / shard["file"]
    fix = (f"delete {path} and re-run `framework data prepare` with the same recipe to rebuild it "
           f"(finished shards are kept).")
    if not path.exists():
        raise CorruptShardError(f"shard {path} is missing; {fix}")
    size, expected = path.stat().st_size, shard["num_tokens"] * itemsize
    if size != expected:
        raise CorruptShardError(f"shard {path} is truncated or damaged: {size} bytes, expected {expected}; {fix}")
    if checksum and file_sha256(path) != shard["sha256"]:
        raise CorruptShardError(f"shard {path} does not match its recorded sha256 (corrupted); {fix}")


def open_shard(root: Path, shard: dict, dtype: np.dtype) -> np.ndarray:
    """The shard's tokens as a read-only memory map (nothing is copied or cached)."""
    if shard["num_tokens"] == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(root / shard["file"], dtype=dtype, mode="r", shape=(shard["num_tokens"],))


def verify_index(path: str | Path, checksum: bool = True) -> dict:
    """Check every shard of an index; return the index."""
    index = load_index(path)
    itemsize = np.dtype(index["dtype"]).itemsize
    for shard in index["shards"]:
        check_shard(Path(path).parent, shard, itemsize, checksum)
    return index


def write_index(path: Path, index: dict) -> None:
    write_json(path, {"format": FORMAT, "version": VERSION, **index})
