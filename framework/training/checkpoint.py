"""Committed checkpoints: a save counts only once every rank's files are on disk and verified.

DeepSpeed's own `latest` file is written by rank 0 before other ranks finish their shards, so we
never use it. The protocol:

  1. every rank writes its DeepSpeed shards + its RNG state into `<root>/.staging/<tag>/`
  2. every rank fsyncs and hashes (SHA-256) the files it wrote into `manifest.rank<R>.json`
  3. barrier
  4. rank 0 merges the partial manifests into `manifest.json`, fsyncs it, and renames the staging
     folder to `<root>/<tag>` (atomic on POSIX filesystems): this rename is the commit
  5. barrier; rank 0 prunes old checkpoints beyond keep-last-k

A kill anywhere before step 4 leaves only staging debris, which the next save clears; resume
takes the newest `<root>/step_*` whose files all match the manifest, skipping damaged ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
TRAINER_STATE = "trainer_state.json"
TAG_RE = re.compile(r"^step_(\d{8})$")


def tag_for(step: int) -> str:
    return f"step_{step:08d}"


@dataclass
class Committed:
    path: Path
    step: int
    state: dict


# -- saving -------------------------------------------------------------------------------------
def save(engine, root: Path, step: int, trainer_state: dict, keep_last: int) -> Path:
    """Write and commit a checkpoint collectively; every rank must call this."""
    rank, world = _rank_world()
    tag = tag_for(step)
    staging_root = root / ".staging"
    staging = staging_root / tag
    if rank == 0:
        shutil.rmtree(staging, ignore_errors=True)
        staging_root.mkdir(parents=True, exist_ok=True)
    _barrier()
    engine.save_checkpoint(str(staging_root), tag=tag, save_latest=False)
    _save_rng(staging / f"rng_rank{rank:05d}.pt")
    if rank == 0:
        _write_json(staging / TRAINER_STATE, {**trainer_state, "step": step, "world_size": world})
    _barrier()
    mine = _files_written_by(rank, staging)
    _write_json(staging / f"manifest.rank{rank:05d}.json", {p: _describe(staging / p) for p in mine})
    _barrier()
    final = root / tag
    if rank == 0:
        files: dict = {}
        for part in sorted(staging.glob("manifest.rank*.json")):
            files.update(json.loads(part.read_text()))
            part.unlink()
        unlisted = _listing(staging) - files.keys()
        if unlisted:
            raise RuntimeError(f"checkpoint {tag}: files no rank hashed: {sorted(unlisted)}")
        _write_json(staging / MANIFEST, {"step": step, "world_size": world, "files": files})
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        _fsync_dir(root)
        prune(root, keep_last)
    _barrier()
    return final


def _files_written_by(rank: int, folder: Path) -> list[str]:
    """Each rank hashes its own shards (DeepSpeed names them `..._pp_rank_<R>_...`, ours
    `rng_rank<RRRRR>`); rank 0 also takes the shared files, e.g. `mp_rank_00_model_states.pt`."""
    names = sorted(_listing(folder))
    own = [n for n in names if f"pp_rank_{rank}_" in n or f"rng_rank{rank:05d}" in n]
    if rank == 0:
        per_rank = re.compile(r"pp_rank_\d+_|rng_rank\d{5}")
        own += [n for n in names if not per_rank.search(n) and not n.startswith("manifest.rank")]
    return sorted(set(own))


def _listing(folder: Path) -> set[str]:
    if not folder.exists():
        return set()
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _describe(path: Path) -> dict:
    _fsync(path)
    return {"sha256": sha256(path), "bytes": path.stat().st_size}


def prune(root: Path, keep_last: int) -> None:
    if keep_last <= 0:
        return
    for old in committed_tags(root)[:-keep_last]:
        shutil.rmtree(root / old, ignore_errors=True)


# -- resuming -----------------------------------------------------------------------------------
def committed_tags(root: Path) -> list[str]:
    """Checkpoint folders that were committed (renamed out of staging), oldest first."""
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and TAG_RE.match(p.name))


def verify(path: Path, rank: int = 0, world_size: int = 1) -> str | None:
    """None when every file matches the manifest, else what is wrong (for the warning).

    With `world_size` > 1 this rank hashes only its share of the files (every world_size-th),
    so a large checkpoint is verified in parallel; callers combine the answers (`latest_valid`).
    """
    manifest = path / MANIFEST
    if not manifest.exists():
        return "no manifest.json (save did not complete)"
    try:
        files = json.loads(manifest.read_text())["files"]
    except (json.JSONDecodeError, KeyError):
        return "manifest.json is unreadable"
    for i, (name, want) in enumerate(sorted(files.items())):
        f = path / name
        if not f.exists():
            return f"{name} is missing"
        if f.stat().st_size != want["bytes"]:
            return f"{name} has {f.stat().st_size} bytes, manifest says {want['bytes']} (truncated?)"
        if i % world_size == rank and sha256(f) != want["sha256"]:
            return f"{name} does not match its SHA-256 (corrupted)"
    return None


def latest_valid(root: Path, collective: bool = False) -> Committed | None:
    """Newest committed checkpoint whose files verify; damaged ones are named and skipped.

    With `collective` (every rank calls it, as on resume) the ranks hash disjoint shares of the
    files and agree on the verdict, so resume time does not grow with the number of ranks.
    """
    rank, world = _rank_world() if collective else (0, 1)
    for tag in reversed(committed_tags(root)):
        path = root / tag
        problem = verify(path, rank, world)
        if world > 1:
            verdicts: list = [None] * world
            dist.all_gather_object(verdicts, problem)
            problem = next((v for v in verdicts if v), None)
        if problem:
            logger.warning("skipping checkpoint %s: %s; falling back to the previous one", path, problem)
            continue
        state = json.loads((path / TRAINER_STATE).read_text())
        return Committed(path, state["step"], state)
    return None


def load(engine, ckpt: Committed) -> None:
    """Load DeepSpeed states and this rank's RNG state from a verified checkpoint.

    DeepSpeed's loader unpickles its own files; we only hand it files whose SHA-256 matches the
    manifest we wrote, so nothing foreign is ever unpickled.
    """
    rank, _ = _rank_world()
    engine.load_checkpoint(str(ckpt.path.parent), tag=ckpt.path.name, load_optimizer_states=True,
                           load_lr_scheduler_states=True)
    rng = ckpt.path / f"rng_rank{rank:05d}.pt"
    if rng.exists():
        _load_rng(rng)


# -- helpers ------------------------------------------------------------------------------------
def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _save_rng(path: Path) -> None:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    torch.save(state, path)


def _load_rng(path: Path) -> None:
    state = torch.load(path, weights_only=True)
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    _fsync(tmp)
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        _fsync(path)
    except OSError:  # some filesystems do not allow fsync on directories
        pass


def _rank_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
