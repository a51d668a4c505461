import json
import shutil
from pathlib import Path

from framework.cli.main import build_parser, main
from framework.data.dataset import PackedDataset
from framework.data.tokenizer import load_tokenizer

RECIPES = Path(__file__).parents[2] / "recipes" / "data"


def test_commands_are_registered():
    help_text = build_parser().format_help()
    assert "tokenizer" in help_text and "data" in help_text


def test_demo_recipe_end_to_end(tmp_path, capsys):
    """The `make demo` data path: embedded corpus -> byte-level BPE -> shards (vocab cut for speed)."""
    recipe = str(RECIPES / "embedded-bpe.yaml")
    overrides = ["tokenizer.vocab_size=512", f"tokenizer.out_dir={tmp_path}/tok", f"prepare.out_dir={tmp_path}/shards"]
    assert main(["tokenizer", "train", recipe, *overrides]) == 0
    assert main(["data", "prepare", recipe, *overrides]) == 0
    out = capsys.readouterr().out
    assert "vocab 512" in out and f"index: {tmp_path}/shards/index.json" in out
    index = json.loads((tmp_path / "shards" / "index.json").read_text())
    assert index["sources"][0]["name"] == "python-docs" and index["splits"]["train"]["num_tokens"] > 200_000
    tok = load_tokenizer(tmp_path / "tok")
    assert (tok.pad_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2)  # as gpt2-debug expects
    assert len(PackedDataset(tmp_path / "shards" / "index.json", 128, split="validation")) > 0
    assert main(["data", "verify", f"{tmp_path}/shards/index.json"]) == 0
    assert "shard files OK" in capsys.readouterr().out


def test_prepare_workers_then_merge(tmp_path, corpus_dir, capsys, monkeypatch):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"sources:\n  - path: {corpus_dir}/fineweb\n    min_int_score: 3\n"
                      f"  - path: {corpus_dir}/notes.jsonl\n"
                      f"tokenizer:\n  vocab_size: 300\n  out_dir: {tmp_path}/tok\n"
                      f"prepare:\n  out_dir: {tmp_path}/shards\n  docs_per_shard: 5\n")
    assert main(["tokenizer", "train", str(recipe)]) == 0
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "4")  # a Slurm array 3-4: this is its second task
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "3")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
    assert main(["data", "prepare", str(recipe)]) == 0
    assert not (tmp_path / "shards" / "index.json").exists()
    assert main(["data", "prepare", str(recipe), "--worker", "0"]) == 0
    assert main(["data", "merge", f"{tmp_path}/shards"]) == 0
    assert "index:" in capsys.readouterr().out


def test_errors_are_messages_not_tracebacks(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"sources:\n  - path: {tmp_path}/missing.txt\ntokenizer:\n  out_dir: {tmp_path}/tok\n")
    assert main(["data", "prepare", str(recipe)]) == 2
    assert "missing.txt does not exist" in capsys.readouterr().err
    assert main(["data", "prepare", str(recipe), "prepare.num_prc=2"]) == 2
    assert "Did you mean 'prepare.num_proc'" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "tok", ignore_errors=True)
    assert main(["data", "merge", str(tmp_path)]) == 2
    assert "plan" in capsys.readouterr().err
