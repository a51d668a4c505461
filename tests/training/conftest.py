from pathlib import Path

import pytest

from tests.training.helpers import prepare_tiny


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """kind -> shards folder, prepared once per session."""
    root = tmp_path_factory.mktemp("tiny-data")
    cache = {}

    def get(kind: str) -> Path:
        if kind not in cache:
            cache[kind] = prepare_tiny(root, kind)
        return cache[kind]

    return get
