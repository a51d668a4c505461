from pathlib import Path

import pytest

from framework.config import ConfigError
from framework.data.recipe import DataRecipe, load_recipe

RECIPES = sorted((Path(__file__).parents[2] / "recipes" / "data").glob("*.yaml"))


def test_there_are_data_recipes():
    assert {"embedded-bpe.yaml", "embedded-wordpiece.yaml", "embedded-unigram.yaml",
            "fineweb-edu-bpe.yaml"} <= {p.name for p in RECIPES}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_loads(path):
    recipe = load_recipe(path)
    assert isinstance(recipe, DataRecipe) and recipe.sources
    assert abs(sum(recipe.weights().values()) - 1.0) < 1e-9


def test_overrides_and_unknown_keys(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("sources:\n  - path: a.txt\nprepare:\n  num_proc: 1\n")
    recipe = load_recipe(path, ["prepare.num_proc=4", "tokenizer.kind=unigram"])
    assert recipe.prepare.num_proc == 4 and recipe.tokenizer.kind == "unigram"
    assert recipe.sources[0].name == "a"
    with pytest.raises(ConfigError, match="Did you mean 'prepare.num_proc'"):
        load_recipe(path, ["prepare.numproc=2"])


@pytest.mark.parametrize("source, message", [
    ("{path: a.txt, hub: x/y}", "exactly one of"),
    ("{}", "exactly one of"),
    ("{path: a.txt, weight: 0}", "weight must be > 0"),
    ("{path: a.txt, name: 'bad name'}", "may only hold"),
])
def test_bad_sources_are_rejected(tmp_path, source, message):
    path = tmp_path / "r.yaml"
    path.write_text(f"sources:\n  - {source}\n")
    with pytest.raises(ConfigError, match=message):
        load_recipe(path)


def test_duplicate_source_names_and_special_roles(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("sources:\n  - path: a/x.txt\n  - path: b/x.txt\n")
    with pytest.raises(ConfigError, match="unique"):
        load_recipe(path)
    path.write_text("sources:\n  - path: a.txt\ntokenizer:\n  special_tokens: {start: '<s>'}\n")
    with pytest.raises(ConfigError, match="unknown roles"):
        load_recipe(path)


@pytest.mark.parametrize("source, name", [
    (dict(path="data/fineweb/*.parquet"), "fineweb"), (dict(path="corpus/notes.jsonl"), "notes"),
    (dict(path="data/my-corpus/"), "my-corpus"), (dict(hub="HuggingFaceFW/fineweb-edu"), "fineweb-edu"),
    (dict(embedded="python-docs"), "python-docs"),
])
def test_default_source_names(source, name):
    from framework.data.recipe import SourceConfig

    assert SourceConfig(**source).name == name
