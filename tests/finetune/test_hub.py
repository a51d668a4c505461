"""Export with a model card, and the push: the exact files and the upload call, with no network;
the token never shows up in output, files or the card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from framework.cli.main import main
from tests.finetune.helpers import hf_folder

TOKEN = "hf_SECRETtokenFORtestsONLY1234567890"


class FakeApi:
    calls: list = []

    def __init__(self, token=None):
        FakeApi.calls.append(("init", token))

    def create_repo(self, repo_id, private=False, exist_ok=False, repo_type=None):
        FakeApi.calls.append(("create_repo", repo_id, private, exist_ok, repo_type))

    def upload_folder(self, repo_id, folder_path, repo_type=None, commit_message=None, allow_patterns=None):
        present = sorted(p.name for p in Path(folder_path).iterdir())
        FakeApi.calls.append(("upload_folder", repo_id, sorted(allow_patterns), present))


@pytest.fixture
def classifier(tmp_path, tokenizers):
    return hf_folder(tmp_path / "clf", "bert-debug", tokenizers["wordpiece"][0], task="sequence-classification",
                     num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1})


def test_export_and_push(classifier, tmp_path, monkeypatch, capsys, caplog):
    import huggingface_hub

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    out = tmp_path / "out"
    assert main(["export", str(classifier), str(out), "--push-to-hub", "org/tiny-clf", "--private",
                 "--base-model", "google-bert/bert-base-uncased"]) == 0
    files = ["README.md", "config.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json",
             "tokenizer_config.json"]
    assert FakeApi.calls == [("init", TOKEN), ("create_repo", "org/tiny-clf", True, True, "model"),
                             ("upload_folder", "org/tiny-clf", files, files)]
    meta = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    assert meta["pipeline_tag"] == "text-classification" and meta["base_model"] == "google-bert/bert-base-uncased"
    assert json.loads((out / "config.json").read_text())["id2label"] == {"0": "neg", "1": "pos"}
    printed = capsys.readouterr()
    assert "pushed 6 files to https://huggingface.co/org/tiny-clf" in printed.out
    for text in [printed.out, printed.err, caplog.text, *[(out / f).read_bytes().decode("latin-1") for f in files]]:
        assert TOKEN not in text


def test_push_without_a_token_uploads_nothing(classifier, tmp_path, monkeypatch, capsys):
    import huggingface_hub

    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    assert main(["export", str(classifier), str(tmp_path / "out"), "--push-to-hub", "org/x"]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err
    assert FakeApi.calls == []
