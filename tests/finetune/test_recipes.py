"""Every shipped fine-tuning recipe validates, says how to launch it and on what hardware, and has a CPU twin."""

from __future__ import annotations

import pytest

from framework.cli.main import main
from framework.finetune.config import load_finetune_config
from framework.finetune.runner import validate
from tests.finetune.conftest import CHAINS, RECIPES, REPO

ALL = sorted(RECIPES.glob("*.yaml"))
TWINS = {"bert-base-sentiment": "bert-tiny-sentiment", "llama-1b-emotions-lora": "llama-tiny-topics-lora",
         "gpt2-124m-sft": "gpt2-tiny-sft", "t5-base-summarize": "t5-tiny-summarize",
         "transformer-base-translate": "transformer-tiny-translate"}


def test_every_recipe_has_a_cpu_twin_that_the_tests_run():
    assert {p.stem for p in ALL} == set(TWINS) | set(TWINS.values())
    assert {recipe.removesuffix(".yaml") for recipe, _, _ in CHAINS.values()} == set(TWINS.values())


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_recipe_validates(path, monkeypatch):
    monkeypatch.chdir(REPO)
    header = path.read_text().split("run_dir")[0]
    assert header.startswith("#") and "Hardware" in header and "framework finetune" in header
    cfg = load_finetune_config(path)
    validate(cfg)  # static: the init_from model, where local, has the task's head
    assert main(["finetune", str(path), "--check"]) == 0
