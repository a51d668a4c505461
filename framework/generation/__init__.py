"""Text generation for zoo models: greedy, sampling and beam search, token for token like HF `generate`."""

from framework.generation.api import generate
from framework.generation.config import GenerationConfig, GenerationConfigError
from framework.generation.processors import ban_repeated_ngrams, top_k_filter, top_p_filter

__all__ = ["GenerationConfig", "GenerationConfigError", "generate", "ban_repeated_ngrams", "top_k_filter",
           "top_p_filter"]
