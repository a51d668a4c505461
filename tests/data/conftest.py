"""Fixtures: small corpora written by the tests and one prepared dataset shared per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.data.recipe import DataRecipe
from tests.data.helpers import english_documents, tiny_recipe, write_fineweb_parquet, write_jsonl


@pytest.fixture(autouse=True)
def _data_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_DATA_CACHE", str(tmp_path_factory.getbasetemp() / "data-cache"))


@pytest.fixture(scope="session")
def docs() -> list[str]:
    return english_documents()


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory, docs) -> Path:
    """Two FineWeb-style parquet files (int_score 1..4) and one jsonl file."""
    root = tmp_path_factory.mktemp("corpus")
    write_fineweb_parquet(root / "fineweb" / "000.parquet", docs[:12], [1, 2, 3, 4] * 3, start=0)
    write_fineweb_parquet(root / "fineweb" / "001.parquet", docs[12:24], [3, 4, 2, 3] * 3, start=12)
    write_jsonl(root / "notes.jsonl", docs[24:40])
    return root


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, corpus_dir) -> tuple[DataRecipe, Path]:
    """A prepared BPE dataset shared by read-only tests: (recipe, index path)."""
    from framework.data.pipeline import prepare

    recipe = tiny_recipe(corpus_dir, tmp_path_factory.mktemp("prepared"))
    return recipe, prepare(recipe)
