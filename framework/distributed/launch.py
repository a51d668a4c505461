"""Where am I? Rank, world size and rendezvous from whichever launcher started this process.

torchrun / `deepspeed` / `accelerate launch` set RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT;
`srun` sets SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID (our sbatch templates export MASTER_ADDR and
MASTER_PORT); a plain `python` process is rank 0 of 1.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class ProcessInfo:
    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int
    launcher: str


def detect() -> ProcessInfo:
    env = os.environ
    if "RANK" in env and "WORLD_SIZE" in env:
        launcher = "torchrun"
        rank, world, local = int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0))
    elif "SLURM_PROCID" in env and "SLURM_NTASKS" in env and "MASTER_ADDR" in env:
        launcher = "slurm"
        rank, world, local = int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", 0))
    else:
        launcher = "single"
        rank, world, local = 0, 1, 0
    addr = env.get("MASTER_ADDR", "127.0.0.1")
    port = int(env.get("MASTER_PORT", 0)) or free_port()
    return ProcessInfo(rank, world, local, addr, port, launcher)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_distributed(backend: str, timeout_s: float) -> ProcessInfo:
    """Initialise torch.distributed through DeepSpeed, single process included.

    The collective timeout makes a hung rank turn into an error on every rank instead of a
    job that waits forever.
    """
    import deepspeed
    import torch.distributed as dist

    import torch

    info = detect()
    if torch.cuda.is_available():
        torch.cuda.set_device(info.local_rank)  # before the first collective, so NCCL binds the right GPU
    os.environ.update(
        RANK=str(info.rank), WORLD_SIZE=str(info.world_size), LOCAL_RANK=str(info.local_rank),
        MASTER_ADDR=info.master_addr, MASTER_PORT=str(info.master_port),
    )
    if not dist.is_initialized():
        deepspeed.init_distributed(
            dist_backend=backend, auto_mpi_discovery=False, timeout=timedelta(seconds=timeout_s),
            rank=info.rank, world_size=info.world_size,
        )
    return info


def default_backend() -> str:
    import torch

    return "nccl" if torch.cuda.is_available() else "gloo"


def torchrun_command(nproc: int, cli_args: list[str]) -> list[str]:
    """`framework CLI_ARGS` re-launched as `nproc` local ranks under torchrun (used by --nproc)."""
    import sys

    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "framework.cli.main", *cli_args]
