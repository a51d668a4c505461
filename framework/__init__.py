"""Distributed pretraining and fine-tuning of transformers.

The public API is small on purpose: `load` a model from a HF-format folder (or Hub id), train it
with the engine, and `save_pretrained` it back to the vanilla HF format.
"""

from framework.errors import FrameworkError
from framework.generation import GenerationConfig, generate
from framework.models.loading import load

__version__ = "0.1.0"
__all__ = ["FrameworkError", "GenerationConfig", "generate", "load", "__version__"]
