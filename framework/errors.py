"""Exceptions meant to be read by people: each says what is wrong and how to fix it."""


class FrameworkError(Exception):
    """Base class for errors the CLI prints as a message instead of a traceback."""


class UnsupportedModelError(FrameworkError):
    """A config names a `model_type` or architecture the zoo does not implement."""


class WeightsMismatchError(FrameworkError):
    """A checkpoint's tensors do not match the model: missing, unexpected or wrongly shaped keys."""


class UnsafeCheckpointError(FrameworkError):
    """A checkpoint would need arbitrary code to load (pickled objects); we refuse it."""
