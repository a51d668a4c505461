"""Bad model input gets a message that names the problem, never a traceback or unpickled code."""

import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, GPT2Config

import framework
from framework.cli.main import main
from framework.errors import UnsafeCheckpointError, UnsupportedModelError, WeightsMismatchError
from framework.models.gpt2 import GPT2ForCausalLM
from framework.models.registry import build


def _saved(tmp_path):
    model = GPT2ForCausalLM.from_config(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=50, n_positions=16))
    return model, model.save_pretrained(tmp_path / "m")


def test_unsupported_model_type_lists_the_zoo(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "config.json").write_text(json.dumps({"model_type": "mamba"}))
    with pytest.raises(UnsupportedModelError, match="'mamba' is not in the zoo; supported: bert, gpt2, llama, marian, t5"):
        framework.load(tmp_path / "x")
    assert main(["export", str(tmp_path / "x"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_unsupported_architecture_is_named(tmp_path):
    _, folder = _saved(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["GPT2DoubleHeadsModel"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModelError, match="GPT2DoubleHeadsModel"):
        framework.load(folder)


def test_missing_and_unexpected_tensors_are_named(tmp_path):
    model, folder = _saved(tmp_path)
    state = model.hf_state_dict()
    del state["transformer.h.0.mlp.c_fc.bias"]
    state["transformer.h.0.extra.weight"] = torch.zeros(2)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(WeightsMismatchError) as err:
        framework.load(folder)
    assert "missing [transformer.h.0.mlp.c_fc.bias]" in str(err.value)
    assert "unexpected [transformer.h.0.extra.weight]" in str(err.value)


def test_wrongly_shaped_tensor_is_named(tmp_path):
    model, folder = _saved(tmp_path)
    state = model.hf_state_dict()
    state["transformer.wpe.weight"] = torch.zeros(8, 32)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(WeightsMismatchError, match=r"'transformer.wpe.weight' has shape \(8, 32\) but the model expects \(16, 32\)"):
        framework.load(folder)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_pickled_code_is_refused(tmp_path, monkeypatch):
    model, folder = _saved(tmp_path)
    (folder / "model.safetensors").unlink()
    state = dict(model.hf_state_dict())
    state["payload"] = _Exploit()
    with open(folder / "pytorch_model.bin", "wb") as f:
        pickle.dump(state, f)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnsafeCheckpointError, match="refusing it"):
        framework.load(folder)
    assert not (tmp_path / "pwned").exists()


def test_plain_tensor_bin_loads_weights_only(tmp_path):
    model, folder = _saved(tmp_path)
    (folder / "model.safetensors").unlink()
    torch.save(model.hf_state_dict(), folder / "pytorch_model.bin")
    ids = torch.randint(0, 50, (1, 6))
    with torch.no_grad():
        assert torch.allclose(framework.load(folder)(ids).logits, model.eval()(ids).logits)


def test_sharded_export_loads_in_stock(tmp_path):
    model = build("gpt2-debug").eval()
    out = model.save_pretrained(tmp_path / "sharded", max_shard_size=100_000)
    shards = sorted(p.name for p in out.glob("*.safetensors"))
    assert len(shards) > 1 and (out / "model.safetensors.index.json").exists()
    stock = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = torch.randint(3, 512, (2, 9))
    with torch.no_grad():
        assert (stock(ids).logits - model(ids).logits).abs().max() < 1e-4
        assert (framework.load(out)(ids).logits - model(ids).logits).abs().max() < 1e-6


def test_import_cli_swaps_the_head(tmp_path):
    _, folder = _saved(tmp_path)
    assert main(["import", str(folder), str(tmp_path / "cls"), "--task", "sequence-classification",
                 "--num-labels", "3"]) == 0
    config = json.loads((tmp_path / "cls" / "config.json").read_text())
    assert config["architectures"] == ["GPT2ForSequenceClassification"] and len(config["id2label"]) == 3


def test_every_subcommand_explains_itself(capsys):
    from framework.cli.main import COMMANDS, build_parser

    parser = build_parser()
    names = [a for a in parser._subparsers._group_actions[0].choices]
    assert {"models", "pretrain", "generate", "export", "import", "tokenizer", "data"} <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        assert "usage: framework" in capsys.readouterr().out
    assert len(names) == len(COMMANDS)
