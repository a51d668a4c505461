"""What to generate and how: one typed, validated settings object with HF `GenerationConfig` meaning.

Validation happens on construction (and on every `replace`), so a bad value fails before the model
runs, with a message naming the field. Special tokens left as None are filled from the model
config by `resolve`, the way HF fills them from `generation_config.json` (which our exports write
from the same model config).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Literal, Union

from transformers import PretrainedConfig

from framework.errors import FrameworkError

EarlyStopping = Union[bool, Literal["never"]]
TokenIds = Union[int, list[int], None]


class GenerationConfigError(FrameworkError):
    """A generation setting is invalid, or the model config lacks a token generation needs."""


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings; every field means what HF's field of the same name means.

    Differences from HF, on purpose: the length is given only as `max_new_tokens` (HF's default
    `max_length=20` counts the prompt); a special token left as None is taken from the model
    config, and an empty list disables it (e.g. `eos_token_id=[]` never stops early);
    `seed` seeds a private `torch.Generator` for sampling (None: torch's global RNG, as HF).
    """

    max_new_tokens: int = 20
    min_new_tokens: int | None = None
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 50  # HF default; 0 disables. Only used when sampling.
    top_p: float = 1.0
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: EarlyStopping = False
    no_repeat_ngram_size: int = 0
    eos_token_id: TokenIds = None
    pad_token_id: int | None = None
    decoder_start_token_id: int | None = None
    forced_eos_token_id: TokenIds = None  # Marian configs set it: EOS forced at the last position
    seed: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    # -- construction ---------------------------------------------------------------------------
    def replace(self, **changes) -> "GenerationConfig":
        """A copy with `changes` applied (and validated); unknown names are an error, not ignored."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise GenerationConfigError(
                f"unknown generation setting(s) {', '.join(unknown)}; valid: {', '.join(f.name for f in fields(self))}."
            )
        return dataclasses.replace(self, **changes)

    def resolve(self, model_config: PretrainedConfig, is_encoder_decoder: bool) -> "GenerationConfig":
        """Fill unset special tokens from the model config with HF's fallbacks.

        pad defaults to the first EOS (HF does the same when the model has no pad token); an
        encoder-decoder starts from `decoder_start_token_id`, else `bos_token_id`.
        """
        eos = self.eos_token_id if self.eos_token_id is not None else getattr(model_config, "eos_token_id", None)
        forced_eos = self.forced_eos_token_id
        if forced_eos is None:
            forced_eos = getattr(model_config, "forced_eos_token_id", None)
        pad = self.pad_token_id if self.pad_token_id is not None else getattr(model_config, "pad_token_id", None)
        eos_list = _as_list(eos)
        if pad is None and eos_list:
            pad = eos_list[0]
        start = self.decoder_start_token_id
        if is_encoder_decoder and start is None:
            start = getattr(model_config, "decoder_start_token_id", None)
            if start is None:
                start = getattr(model_config, "bos_token_id", None)
            if start is None:
                raise GenerationConfigError(
                    "the model config has neither decoder_start_token_id nor bos_token_id, so the decoder has no "
                    "first token; pass decoder_start_token_id (T5 and Marian start from the pad id)."
                )
        return self.replace(eos_token_id=eos_list, pad_token_id=pad, decoder_start_token_id=start,
                            forced_eos_token_id=_as_list(forced_eos))

    # -- derived --------------------------------------------------------------------------------
    @property
    def eos_ids(self) -> list[int]:
        return _as_list(self.eos_token_id)

    @property
    def forced_eos_ids(self) -> list[int]:
        return _as_list(self.forced_eos_token_id)

    # -- validation -----------------------------------------------------------------------------
    def validate(self) -> None:
        _check_int("max_new_tokens", self.max_new_tokens, minimum=1)
        if self.min_new_tokens is not None:
            _check_int("min_new_tokens", self.min_new_tokens, minimum=0)
        if not isinstance(self.do_sample, bool):
            raise GenerationConfigError(f"do_sample must be True or False, got {self.do_sample!r}.")
        _check_number("temperature", self.temperature)
        if self.do_sample and self.temperature <= 0:
            raise GenerationConfigError(
                f"temperature must be > 0 when sampling, got {self.temperature}; "
                "for greedy decoding set do_sample=False."
            )
        _check_int("top_k", self.top_k, minimum=0)
        _check_number("top_p", self.top_p)
        if not 0 < self.top_p <= 1:
            raise GenerationConfigError(f"top_p must be in (0, 1], got {self.top_p}; 1.0 disables nucleus filtering.")
        _check_int("num_beams", self.num_beams, minimum=1)
        _check_number("length_penalty", self.length_penalty)
        if not (self.early_stopping is True or self.early_stopping is False or self.early_stopping == "never"):
            raise GenerationConfigError(f"early_stopping must be True, False or 'never', got {self.early_stopping!r}.")
        _check_int("no_repeat_ngram_size", self.no_repeat_ngram_size, minimum=0)
        if self.do_sample and self.num_beams > 1:
            raise GenerationConfigError(
                "beam sampling (do_sample=True with num_beams > 1) is not supported; use num_beams=1 to sample "
                "or do_sample=False for beam search."
            )
        for name in ("eos_token_id", "forced_eos_token_id"):
            for token in _as_list(getattr(self, name), name):
                _check_int(name, token, minimum=0)
        for name in ("pad_token_id", "decoder_start_token_id"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), minimum=0)
        if self.seed is not None:
            _check_int("seed", self.seed, minimum=0)


def _as_list(ids: TokenIds, name: str = "token id") -> list[int]:
    if ids is None:
        return []
    if isinstance(ids, (list, tuple)):
        return list(ids)
    if isinstance(ids, int) and not isinstance(ids, bool):
        return [ids]
    raise GenerationConfigError(f"{name} must be an int or a list of ints, got {ids!r}.")


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise GenerationConfigError(f"{name} must be an integer, got {value!r}.")
    if value < minimum:
        raise GenerationConfigError(f"{name} must be >= {minimum}, got {value}.")


def _check_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GenerationConfigError(f"{name} must be a finite number, got {value!r}.")
