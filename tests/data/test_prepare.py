import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import framework.data.pipeline as prep
from framework.data.errors import DataError
from framework.data.pipeline import merge, prepare
from framework.data.recipe import SourceConfig
from framework.data.shards import token_dtype, write_split
from framework.data.split import is_validation
from framework.data.tokenizer import load_tokenizer, tokenizer_hash
from tests.data.helpers import tiny_recipe


def shard_docs(index_path: Path, split: str) -> list[list[int]]:
    index = json.loads(index_path.read_text())
    out = []
    for shard in (s for s in index["shards"] if s["split"] == split):
        tokens = np.fromfile(index_path.parent / shard["file"], dtype=index["dtype"]).tolist()
        bounds = shard["doc_offsets"] + [shard["num_tokens"]]
        out += [tokens[a:b] for a, b in zip(bounds, bounds[1:])]
    return out


def shard_digests(index_path: Path) -> list[tuple[str, str]]:
    return [(s["file"], s["sha256"]) for s in json.loads(index_path.read_text())["shards"]]


def use_tokenizer_of(recipe, other):
    """Same recipe, reusing the tokenizer `other` trained (so shards can be compared)."""
    tokenizer = dataclasses.replace(recipe.tokenizer, pretrained=other.tokenizer.out_dir)
    return dataclasses.replace(recipe, tokenizer=tokenizer)


def test_index_records_tokenizer_sources_and_documents(prepared, docs):
    recipe, index_path = prepared
    index = json.loads(index_path.read_text())
    tok = load_tokenizer(recipe.tokenizer.out_dir)
    assert index["tokenizer"]["hash"] == tokenizer_hash(tok)
    assert index["tokenizer"]["vocab_size"] == len(tok) and index["dtype"] == "uint16"
    assert [(s["name"], s["weight"]) for s in index["sources"]] == [("fineweb", 0.75), ("notes", 0.25)]
    fineweb = index["sources"][0]["read"]
    assert (fineweb["documents"], fineweb["filtered"]) == (15, 9)  # int_score >= 3 kept
    # Every kept document is in exactly one split, tokenised, followed by eos.
    kept = [d for d, s in zip(docs[:24], [1, 2, 3, 4] * 3 + [3, 4, 2, 3] * 3) if s >= 3] + docs[24:40]
    expected = sorted(tok(d, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for d in kept)
    train, validation = shard_docs(index_path, "train"), shard_docs(index_path, "validation")
    assert sorted(train + validation) == expected
    assert 0 < len(validation) < len(train)
    assert index["splits"]["train"]["num_documents"] == len(train)


def test_validation_split_is_chosen_by_document_hash(prepared, docs):
    recipe, index_path = prepared
    tok = load_tokenizer(recipe.tokenizer.out_dir)
    validation = shard_docs(index_path, "validation")
    notes_held = [d for d in docs[24:40] if is_validation(d, 0.2)]  # jsonl has no id: the text is the key
    for doc in notes_held:
        assert tok(doc, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] in validation


def test_rerun_skips_finished_shards(prepared):
    recipe, index_path = prepared
    out = index_path.parent
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.bin")}
    before = shard_digests(index_path)
    assert prepare(recipe) == index_path
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.bin")} == stamps
    assert shard_digests(index_path) == before


def test_interrupted_run_resumes_without_duplicates(prepared, corpus_dir, tmp_path, monkeypatch):
    reference, ref_index = prepared
    recipe = use_tokenizer_of(tiny_recipe(corpus_dir, tmp_path), reference)
    real, calls = prep.write_chunk, []

    def crash_on_fourth(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(prep, "write_chunk", crash_on_fourth)
    with pytest.raises(KeyboardInterrupt):
        prepare(recipe)
    out = Path(recipe.prepare.out_dir)
    assert not (out / "index.json").exists() and not list(out.glob(".*.tmp"))
    calls.clear()
    monkeypatch.setattr(prep, "write_chunk", lambda *a, **k: (calls.append(a[1]), real(*a, **k)))
    index = prepare(recipe)
    total = len(json.loads(ref_index.read_text())["shards"]) // 2
    assert len(calls) == total - 3  # only the unfinished chunks were tokenised again
    assert shard_digests(index) == shard_digests(ref_index)


def test_damaged_shard_is_rebuilt_on_rerun(prepared, corpus_dir, tmp_path):
    reference, ref_index = prepared
    recipe = use_tokenizer_of(tiny_recipe(corpus_dir, tmp_path), reference)
    index = prepare(recipe)
    victim = sorted(index.parent.glob("*.train.bin"))[1]
    victim.write_bytes(victim.read_bytes()[:-6])
    prepare(recipe)
    assert shard_digests(index) == shard_digests(ref_index)


def test_workers_share_inputs_and_merge_to_the_same_index(prepared, corpus_dir, tmp_path):
    reference, ref_index = prepared
    recipe = use_tokenizer_of(tiny_recipe(corpus_dir, tmp_path, num_proc=2),
                              reference)
    assert prepare(recipe, worker=0, num_workers=2) is None  # other worker's units still pending
    with pytest.raises(DataError, match="not prepared yet"):
        merge(recipe.prepare.out_dir)
    index = prepare(recipe, worker=1, num_workers=2)  # the last worker merges
    assert shard_digests(index) == shard_digests(ref_index)
    assert shard_digests(merge(recipe.prepare.out_dir)) == shard_digests(ref_index)


def test_workers_need_a_trained_tokenizer(corpus_dir, tmp_path):
    with pytest.raises(DataError, match="tokenizer train"):
        prepare(tiny_recipe(corpus_dir, tmp_path), worker=0, num_workers=2)


def test_changed_recipe_is_refused_but_weights_may_change(prepared):
    recipe, index_path = prepared
    with pytest.raises(DataError, match="different recipe"):
        prepare(dataclasses.replace(recipe, prepare=dataclasses.replace(recipe.prepare, docs_per_shard=5)))
    sources = [dataclasses.replace(s, weight=1.0) for s in recipe.sources]
    try:
        prepare(dataclasses.replace(recipe, sources=sources))
        assert [s["weight"] for s in json.loads(index_path.read_text())["sources"]] == [0.5, 0.5]
    finally:
        prepare(recipe)
    assert [s["weight"] for s in json.loads(index_path.read_text())["sources"]] == [0.75, 0.25]


def test_empty_source_stops_with_a_clear_error(prepared, corpus_dir, tmp_path):
    reference, _ = prepared
    recipe = use_tokenizer_of(tiny_recipe(corpus_dir, tmp_path), reference)
    recipe.sources[0] = SourceConfig(name="fineweb", path=str(corpus_dir / "fineweb"), min_int_score=9)
    with pytest.raises(DataError, match="'fineweb' yielded no documents \\(24 filtered"):
        prepare(recipe)


def test_wide_vocabularies_use_uint32(tmp_path):
    assert token_dtype(65536) == np.uint16 and token_dtype(65537) == np.uint32
    wide = np.dtype(np.uint32)
    entry = write_split(tmp_path, "c", "train", np.array([70000, 1, 2], np.uint32), np.array([2, 1]), wide)
    assert np.fromfile(tmp_path / entry["file"], np.uint32).tolist() == [70000, 1, 2]
    assert entry["doc_offsets"] == [0, 2]
