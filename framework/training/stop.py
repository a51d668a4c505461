"""Stop requests: a signal only sets a flag; the loop acts on it at a step boundary.

Ranks agree on the flag with one all-reduce per step, so a signal delivered to any one rank (the
Slurm launcher may signal only some) stops every rank at the same step.
"""

from __future__ import annotations

import signal

import torch
import torch.distributed as dist

# SIGUSR1 is Slurm's default warning signal but NCCL-using processes have been seen to lose it;
# SIGTERM is what Slurm sends at preemption and time limits, and SIGINT is Ctrl-C. We handle all.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)


class StopFlag:
    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._previous = {}

    def install(self) -> None:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    def agreed(self, device: torch.device | str = "cpu") -> bool:
        """True on every rank if any rank has been asked to stop (`device`: where the process
        group's backend reduces, e.g. the GPU for NCCL)."""
        if not (dist.is_available() and dist.is_initialized()):
            return self.requested
        flag = torch.tensor([1.0 if self.requested else 0.0], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())
