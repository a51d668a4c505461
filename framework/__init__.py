"""Distributed pretraining and fine-tuning of transformers.

The public API is small on purpose: `load` a model from a HF-format folder (or Hub id, or one of
our runs), `generate` from it, and `save_pretrained` it back to the vanilla HF format. The
heavy imports (torch, transformers) happen on first use, so `framework --help` and the Slurm
helpers start fast.
"""

from framework.errors import FrameworkError

__version__ = "0.1.0"
__all__ = ["FrameworkError", "GenerationConfig", "generate", "load", "__version__"]


def __getattr__(name: str):
    if name == "load":
        from framework.models.loading import load

        return load
    if name in ("generate", "GenerationConfig"):
        import framework.generation as generation

        return getattr(generation, name)
    raise AttributeError(f"module 'framework' has no attribute '{name}'")
