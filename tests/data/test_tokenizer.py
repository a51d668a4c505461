import json

import pytest
from tokenizers import Tokenizer
from transformers import AutoTokenizer

from framework.data.errors import DataError
from framework.data.recipe import DataRecipe, SourceConfig, TokenizerConfig
from framework.data.tokenizer import load_tokenizer, save_tokenizer, sentinel_ids, tokenizer_hash
from framework.data.tokenizer_train import resolve_tokenizer, train_from_recipe, train_tokenizer

SAMPLES = ["The quick brown fox jumps over the lazy dog.", "  Ünïcödé text, 日本語 and emoji 🙂!",
           "def f(x):\n    return x ** 2  # code", ""]


@pytest.fixture(scope="module")
def trained(docs):
    cfgs = {"bpe": TokenizerConfig(kind="bpe", vocab_size=500),
            "wordpiece": TokenizerConfig(kind="wordpiece", vocab_size=500, lowercase=True),
            "unigram": TokenizerConfig(kind="unigram", vocab_size=500, extra_ids=10)}
    return {kind: train_tokenizer(cfg, docs) for kind, cfg in cfgs.items()}


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "unigram"])
def test_saved_folder_loads_in_stock_autotokenizer_and_encodes_identically(trained, kind, tmp_path, docs):
    save_tokenizer(trained[kind], tmp_path / kind)
    assert {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} <= {
        p.name for p in (tmp_path / kind).iterdir()}
    stock = AutoTokenizer.from_pretrained(tmp_path / kind)
    raw = Tokenizer.from_file(str(tmp_path / kind / "tokenizer.json"))
    for text in SAMPLES + docs[:3]:
        assert stock(text)["input_ids"] == raw.encode(text).ids == trained[kind](text)["input_ids"]
    assert tokenizer_hash(stock) == tokenizer_hash(trained[kind])
    assert len(stock) == len(trained[kind]) <= 500


def test_special_tokens_follow_each_family(trained):
    bpe, wp, uni = trained["bpe"], trained["wordpiece"], trained["unigram"]
    assert (bpe.pad_token_id, bpe.bos_token_id, bpe.eos_token_id) == (0, 1, 2)  # the zoo's small presets
    assert bpe("hello world")["input_ids"][-1] != bpe.eos_token_id  # GPT-2 style: nothing added
    assert [wp.convert_ids_to_tokens(i) for i in range(5)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    ids = wp("Hello World")["input_ids"]
    assert ids[0] == wp.cls_token_id and ids[-1] == wp.sep_token_id
    assert wp.decode(ids[1:-1]) == "hello world"  # lowercased, ## pieces joined back
    assert (uni.pad_token_id, uni.eos_token_id, uni.unk_token_id) == (0, 1, 2)
    assert uni("hello")["input_ids"][-1] == uni.eos_token_id
    sentinels = sentinel_ids(uni)
    assert len(sentinels) == 10 and sentinels[0] == len(uni) - 1 and sentinels == sorted(sentinels, reverse=True)


def test_hash_tells_tokenizers_apart(trained):
    hashes = {tokenizer_hash(t) for t in trained.values()}
    assert len(hashes) == 3


def test_normalisation_comes_from_the_config(docs):
    cased = train_tokenizer(TokenizerConfig(kind="bpe", vocab_size=300), docs[:10])
    lower = train_tokenizer(TokenizerConfig(kind="bpe", vocab_size=300, lowercase=True, normalization="nfkc"),
                            docs[:10])
    assert lower("HELLO ﬁ")["input_ids"] == lower("hello fi")["input_ids"]
    assert cased("HELLO")["input_ids"] != cased("hello")["input_ids"]


def test_recipe_trains_once_and_reuses_or_uses_pretrained(tmp_path, corpus_dir):
    recipe = DataRecipe(sources=[SourceConfig(path=str(corpus_dir / "notes.jsonl"))],
                        tokenizer=TokenizerConfig(vocab_size=300, out_dir=str(tmp_path / "tok")))
    out = train_from_recipe(recipe)
    meta = json.loads((out / "framework_tokenizer.json").read_text())
    assert meta["tokenizer"]["vocab_size"] == 300
    stamp = (out / "tokenizer.json").stat().st_mtime_ns
    assert train_from_recipe(recipe) == out and (out / "tokenizer.json").stat().st_mtime_ns == stamp
    recipe.tokenizer.vocab_size = 280
    with pytest.raises(DataError, match="other settings"):
        resolve_tokenizer(recipe)
    reuse = DataRecipe(sources=recipe.sources, tokenizer=TokenizerConfig(pretrained=str(out)))
    tok, where = resolve_tokenizer(reuse)
    assert where == str(out) and len(tok) == 300


def test_missing_tokenizer_folder():
    with pytest.raises(DataError, match="cannot load a tokenizer"):
        load_tokenizer("/nonexistent/tokenizer-folder")
