"""What every zoo model shares: HF-format save/load through a key map, and declared block units."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn
from transformers import PretrainedConfig

from framework.errors import WeightsMismatchError
from framework.models import hf_io


class ZooModel(nn.Module):
    """Base class: a single-device model that is, weight for weight, a stock HF model.

    Subclasses declare:
      * `config_class`: the transformers config class (same `model_type`, round-trips via AutoConfig)
      * `hf_architecture`: the stock transformers class name our export loads as
      * `block_classes`: repeated blocks; the engine wraps these for activation checkpointing and
        treats them as ZeRO-3 units. Models never apply parallelism themselves.
      * `tied_keys`: parameters that alias another one (not written on export, like HF)
      * `transposed_keys`: key suffixes whose HF tensor is the transpose of ours (GPT-2's Conv1D)
      * `generated_keys`: buffers HF does not store (recomputed on load), e.g. sinusoidal tables
      * `generative`: a text-generating head, whose export also writes generation_config.json
    """

    config_class: ClassVar[type[PretrainedConfig]]
    hf_architecture: ClassVar[str]
    block_classes: ClassVar[tuple[type[nn.Module], ...]] = ()
    tied_keys: ClassVar[dict[str, str]] = {}
    transposed_keys: ClassVar[tuple[str, ...]] = ()
    generated_keys: ClassVar[tuple[str, ...]] = ()
    is_encoder_decoder: ClassVar[bool] = False
    generative: ClassVar[bool] = False  # LM heads: exports also carry generation_config.json
    supports_gradient_checkpointing: ClassVar[bool] = True

    def __init__(self, config: PretrainedConfig) -> None:
        super().__init__()
        self.config = config

    # -- initialisation ---------------------------------------------------------------------
    def init_weights(self) -> None:
        """Initialise every module with the family's scheme, then re-tie shared weights."""
        self.apply(self._init_module)
        self.tie_weights()

    def _init_module(self, module: nn.Module) -> None:
        std = getattr(self.config, "initializer_range", 0.02)
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def tie_weights(self) -> None:
        """Point every tied parameter at its source (subclasses with ties override)."""
        for alias, source in self.tied_keys.items():
            _set_param(self, alias, _get_param(self, source))

    # -- HF format --------------------------------------------------------------------------
    def hf_state_dict(self) -> dict[str, torch.Tensor]:
        """Our weights under stock transformers' key names and layouts."""
        out = {}
        for key, tensor in self.state_dict().items():
            if key in self.tied_keys or key in self.generated_keys:
                continue
            if key.endswith(self.transposed_keys):
                tensor = tensor.t()
            out[key] = tensor.contiguous()
        return out

    def load_hf_state_dict(self, hf_state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
        """Load stock-HF-named tensors, naming every missing, unexpected or mis-shaped key."""
        own = self.state_dict()
        expected = {k for k in own if k not in self.tied_keys and k not in self.generated_keys}
        ignorable = set(self.tied_keys) | set(self.generated_keys)
        given = {k: v for k, v in hf_state.items() if k not in ignorable}
        missing = sorted(expected - given.keys())
        unexpected = sorted(given.keys() - expected)
        shaped = {}
        for key in expected & given.keys():
            tensor = given[key].t() if key.endswith(self.transposed_keys) else given[key]
            if tensor.shape != own[key].shape:
                raise WeightsMismatchError(
                    f"{source}: tensor '{key}' has shape {tuple(tensor.shape)} but the model expects "
                    f"{tuple(own[key].shape)}; the config does not describe these weights."
                )
            shaped[key] = tensor
        if missing or unexpected:
            raise WeightsMismatchError(
                f"{source} does not match {type(self).__name__}: missing {_preview(missing)}, "
                f"unexpected {_preview(unexpected)}. Check that config.json belongs to these weights "
                f"and that 'architectures' names the right head."
            )
        with torch.no_grad():
            for key, tensor in shaped.items():
                own[key].copy_(tensor.to(own[key].dtype))
        self.tie_weights()

    def save_pretrained(self, out_dir: str | Path, max_shard_size: int = hf_io.DEFAULT_SHARD_BYTES) -> Path:
        """Write config.json + safetensors that stock `AutoModel*.from_pretrained` loads as-is."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        config = self.config.__class__.from_dict(self.config.to_dict())
        config.architectures = [self.hf_architecture]
        config.save_pretrained(out)
        hf_io.save_safetensors(self.hf_state_dict(), out, max_shard_size)
        if self.generative:  # special tokens and decoder start, for stock `generate`
            from transformers import GenerationConfig

            GenerationConfig.from_model_config(self.config).save_pretrained(out)
        return out

    @classmethod
    def from_config(cls, config: PretrainedConfig) -> "ZooModel":
        model = cls(config)
        model.init_weights()
        return model

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "ZooModel":
        from framework.models.loading import load

        model = load(path)
        if not isinstance(model, cls):
            raise WeightsMismatchError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}.")
        return model

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        seen, total = set(), 0
        for name, p in self.named_parameters():
            if id(p) in seen or (exclude_embeddings and _is_embedding(self, name)):
                continue
            seen.add(id(p))
            total += p.numel()
        return total


def _is_embedding(model: nn.Module, name: str) -> bool:
    module = model.get_submodule(name.rsplit(".", 1)[0])
    return isinstance(module, nn.Embedding)


def _get_param(root: nn.Module, dotted: str) -> nn.Parameter:
    owner, _, leaf = dotted.rpartition(".")
    return getattr(root.get_submodule(owner) if owner else root, leaf)


def _set_param(root: nn.Module, dotted: str, param: nn.Parameter) -> None:
    owner, _, leaf = dotted.rpartition(".")
    setattr(root.get_submodule(owner) if owner else root, leaf, param)


def _preview(keys: list[str], limit: int = 8) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:limit])
    return f"[{shown}{', ...' if len(keys) > limit else ''}] ({len(keys)})"


def read_config_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
