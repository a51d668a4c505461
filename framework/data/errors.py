"""The data layer's errors. Each says what is wrong, where, and what to do about it."""

from framework.errors import FrameworkError


class DataError(FrameworkError):
    """A corpus, recipe or prepared dataset cannot be used as asked."""


class CorruptShardError(DataError):
    """A token shard is missing, truncated, or does not match its recorded checksum."""


class TokenizerMismatchError(DataError):
    """Shards were written by a different tokenizer than the one the run uses."""


class IncompatibleModelError(DataError):
    """The tokenizer, shards or sequence length do not fit the model's config."""
