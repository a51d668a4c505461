"""The held-out validation split: a document is held out by a hash of its key (id or text), so
the choice does not depend on file order, sharding, or how many processes prepared the data."""

from __future__ import annotations

import hashlib


def is_validation(key: str, fraction: float, seed: int = 0) -> bool:
    if fraction <= 0.0:
        return False
    digest = hashlib.blake2b(f"{seed}\x00{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") < fraction * 2**64
