"""The activation names HF configs use, mapped to torch functions."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from framework.errors import FrameworkError

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_fast": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


def get_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise FrameworkError(f"activation '{name}' is not supported; use one of {sorted(ACTIVATIONS)}") from None
