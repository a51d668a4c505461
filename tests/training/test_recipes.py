"""Every shipped pretraining recipe validates; bad recipes fail before compute, naming the key."""

from pathlib import Path

import pytest

from framework.cli.main import main
from framework.config import ConfigError
from framework.training.config import load_pretrain_config
from framework.training.validate import validate

RECIPES = sorted(Path(__file__).resolve().parents[2].joinpath("recipes", "pretrain").glob("*.yaml"))


def test_every_family_has_a_real_recipe_and_a_cpu_twin():
    names = {p.stem for p in RECIPES}
    for real, twin in [("gpt2-124m", "gpt2-tiny"), ("llama-1b", "llama-tiny"), ("bert-base", "bert-tiny"),
                       ("t5-base", "t5-tiny"), ("transformer-base", "transformer-tiny")]:
        assert real in names and twin in names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_validates(path, monkeypatch):
    monkeypatch.chdir(path.parents[2])
    header = path.read_text().splitlines()[0]
    assert header.startswith("#")
    assert "Hardware" in path.read_text().split("run_dir")[0], "header must say what hardware it targets"
    cfg = load_pretrain_config(path)
    validate(cfg)
    assert main(["pretrain", str(path), "--check"]) == 0


@pytest.mark.parametrize("override, message", [
    (["train.lr=1e-3"], "unknown key 'train.lr'"),
    (["optim.lrr=1e-3"], "Did you mean 'optim.lr'?"),
    (["train.micro_batch_size=3"], "multiple of train.micro_batch_size"),
    (["train.offload_params=true"], "offload_params needs train.zero_stage=3"),
    (["train.zero_stage=3", "model.compile=true"], "model.compile is not supported with ZeRO-3"),
    (["train.zero_stage=5"], "'train.zero_stage' must be one of [0, 1, 2, 3]"),
    (["train.max_steps=many"], "'train.max_steps' must be int"),
    (["data.objective=masked-lm"], "needs a 'masked-lm' head, which gpt2 does not have"),
    (["data.seq_len=4096"], "exceeds the model's 256 positions"),
    (["model.preset=gpt2-huge"], "not a zoo preset"),
    (["model.config.vocab_size=100"], "set model.config.vocab_size >= 8192"),
])
def test_bad_recipes_name_the_key(override, message, monkeypatch):
    monkeypatch.chdir(RECIPES[0].parents[2])
    with pytest.raises(ConfigError, match=None) as err:
        validate(load_pretrain_config("recipes/pretrain/gpt2-tiny.yaml", override))
    assert message in str(err.value)


def test_batch_that_does_not_divide_the_world_is_rejected(monkeypatch, capsys):
    monkeypatch.chdir(RECIPES[0].parents[2])
    assert main(["pretrain", "recipes/pretrain/gpt2-tiny.yaml", "--nproc", "3", "--check"]) == 2
    assert "not divisible by micro_batch_size (16) x ranks (3)" in capsys.readouterr().err


def test_overrides_may_follow_options(monkeypatch, capsys):
    monkeypatch.chdir(RECIPES[0].parents[2])
    assert main(["pretrain", "recipes/pretrain/gpt2-tiny.yaml", "--check", "train.micro_batch_size=3"]) == 2
    assert "multiple of train.micro_batch_size" in capsys.readouterr().err
    assert main(["pretrain", "recipes/pretrain/gpt2-tiny.yaml", "--check", "train.max_steps=5"]) == 0
