"""Reading and writing HF-format weight files, safely.

Safetensors is the only format we write. For reading, `.bin` files are accepted only through
`torch.load(weights_only=True)`, which refuses pickled code; a file that needs more is rejected.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from framework.errors import UnsafeCheckpointError, WeightsMismatchError

DEFAULT_SHARD_BYTES = 5 * 1024**3
SAFE_INDEX = "model.safetensors.index.json"
BIN_INDEX = "pytorch_model.bin.index.json"


def save_safetensors(state: dict[str, torch.Tensor], out: Path, max_shard_bytes: int) -> list[Path]:
    """Write `model.safetensors`, or numbered shards plus the index HF reads above the size."""
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = tensor
        size += nbytes
    meta = {"format": "pt"}
    if len(shards) == 1:
        path = out / "model.safetensors"
        save_file(shards[0], str(path), metadata=meta)
        return [path]
    names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    weight_map = {}
    for name, shard in zip(names, shards):
        save_file(shard, str(out / name), metadata=meta)
        weight_map.update({k: name for k in shard})
    total = sum(t.numel() * t.element_size() for t in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / SAFE_INDEX).write_text(json.dumps(index, indent=2, sort_keys=True))
    return [out / n for n in names]


def load_weights(folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of an HF model folder, from safetensors (preferred) or weights-only `.bin`."""
    if (folder / "model.safetensors").exists():
        return load_file(str(folder / "model.safetensors"))
    if (folder / SAFE_INDEX).exists():
        return _load_indexed(folder, SAFE_INDEX, lambda p: load_file(str(p)))
    if (folder / "pytorch_model.bin").exists():
        return load_bin(folder / "pytorch_model.bin")
    if (folder / BIN_INDEX).exists():
        return _load_indexed(folder, BIN_INDEX, load_bin)
    raise WeightsMismatchError(
        f"{folder} has no weights: expected model.safetensors, {SAFE_INDEX} or pytorch_model.bin. "
        f"Point at the folder written by save_pretrained."
    )


def load_bin(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a pickle-based file, refusing anything that is not plain tensors."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f"{path} contains pickled objects other than tensors, which could run code when loaded; "
            f"refusing it. Convert it to safetensors with a trusted tool first. ({str(err).splitlines()[0]})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UnsafeCheckpointError(f"{path} is not a flat mapping of tensor names to tensors.")
    return state


def _load_indexed(folder: Path, index_name: str, reader) -> dict[str, torch.Tensor]:
    index = json.loads((folder / index_name).read_text())
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(set(index["weight_map"].values())):
        path = folder / shard
        if not path.exists():
            raise WeightsMismatchError(f"{folder / index_name} lists shard '{shard}', which is missing.")
        state.update(reader(path))
    return state
