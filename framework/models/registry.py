"""The zoo's registries, as plain dicts built from each family package's `FAMILY` declaration.

A family is a subpackage of `framework.models` whose `__init__` defines `FAMILY`; adding one
needs no edit here.
"""

from __future__ import annotations

import importlib
import pkgutil

from transformers import AutoConfig, PretrainedConfig

import framework.models as _models_pkg
from framework.errors import UnsupportedModelError
from framework.models.base import ZooModel
from framework.models.family import Family


def _discover() -> dict[str, Family]:
    families = {}
    for info in sorted(pkgutil.iter_modules(_models_pkg.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name == "common":
            continue
        module = importlib.import_module(f"framework.models.{info.name}")
        family = getattr(module, "FAMILY", None)
        if isinstance(family, Family):
            families[family.model_type] = family
    return families


FAMILIES: dict[str, Family] = _discover()
ARCHITECTURES: dict[str, type[ZooModel]] = {n: c for f in FAMILIES.values() for n, c in f.architectures.items()}
ALIASES: dict[str, str] = {a: n for f in FAMILIES.values() for a, n in f.aliases.items()}
PRESETS: dict[str, tuple[str, dict]] = {
    name: (f.model_type, kw) for f in FAMILIES.values() for name, kw in f.presets.items()
}


def supported_model_types() -> list[str]:
    return sorted(FAMILIES)


def family_of(model_type: str) -> Family:
    if model_type not in FAMILIES:
        raise UnsupportedModelError(
            f"model_type '{model_type}' is not in the zoo; supported: {', '.join(supported_model_types())}."
        )
    return FAMILIES[model_type]


def resolve_class(config: PretrainedConfig, task: str | None = None) -> type[ZooModel]:
    """The zoo class for a config, from a task, its `architectures` entry, or the family default."""
    family = family_of(getattr(config, "model_type", None))
    if task is not None:
        if task not in family.tasks:
            raise UnsupportedModelError(
                f"'{family.model_type}' has no '{task}' head; available: {', '.join(sorted(family.tasks))}."
            )
        return ARCHITECTURES[family.tasks[task]]
    names = getattr(config, "architectures", None) or [family.default]
    name = ALIASES.get(names[0], names[0])
    if name not in family.architectures:
        raise UnsupportedModelError(
            f"architecture '{names[0]}' ({family.model_type}) is not in the zoo; supported: "
            f"{', '.join(sorted(family.architectures))}. Pass a task to pick a head explicitly."
        )
    return family.architectures[name]


def config_from_preset(name: str, **overrides) -> PretrainedConfig:
    """A transformers config for a named preset, e.g. `gpt2-124m`, with keyword overrides."""
    if name not in PRESETS:
        raise UnsupportedModelError(f"unknown preset '{name}'; available: {', '.join(sorted(PRESETS))}.")
    model_type, kwargs = PRESETS[name]
    return AutoConfig.for_model(model_type, **{**kwargs, **overrides})


def build(name_or_config: str | PretrainedConfig, task: str | None = None) -> ZooModel:
    """A freshly initialised zoo model from a preset name or a config."""
    config = config_from_preset(name_or_config) if isinstance(name_or_config, str) else name_or_config
    return resolve_class(config, task).from_config(config)
