"""`framework viz attention`: self-attention for encoders, plus cross-attention for encoder-decoders."""

from __future__ import annotations

import pytest

from framework.cli.main import main
from framework.data import load_tokenizer
from framework.finetune.checkpoints import load_model
from framework.viz import attention_maps
from tests.finetune.helpers import hf_folder


@pytest.mark.parametrize("preset, kind, kinds", [
    ("bert-debug", "wordpiece", ["self-attention"]),
    ("t5-debug", "unigram", ["encoder self-attention", "decoder self-attention", "cross-attention"]),
])
def test_attention_maps_and_png(preset, kind, kinds, tmp_path, tokenizers, capsys):
    folder = hf_folder(tmp_path / preset, preset, tokenizers[kind][0])
    maps = attention_maps(load_model(folder), load_tokenizer(folder), "the movie was great", target="good film")
    assert [m.kind for m in maps] == kinds
    for m in maps:
        layers, heads, lq, lk = m.weights.shape
        assert (layers, heads) == (2, 4) and (lq, lk) == (len(m.query_tokens), len(m.key_tokens))
        assert m.weights.sum(-1).allclose(m.weights.new_ones(layers, heads, lq), atol=1e-4)  # rows are distributions
    out = tmp_path / "grid.png"
    assert main(["viz", "attention", str(folder), "--text", "the movie was great", "--out", str(out)]) == 0
    single = tmp_path / "one.png"
    assert main(["viz", "attention", str(folder), "--text", "the movie was great", "--layer", "-1", "--head", "2",
                 "--out", str(single)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and single.stat().st_size > 5000
    assert main(["viz", "attention", str(folder), "--text", "x", "--layer", "7", "--out", str(out)]) == 2
    assert "--layer 7 is out of range: the model has 2 layers" in capsys.readouterr().err
