import numpy as np
import pytest
import torch
from transformers import GPT2Config

from framework.data.dataset import Sample
from framework.data.errors import DataError
from framework.data.objectives import (CausalLMCollator, ClassificationCollator, MaskedLMCollator, Seq2SeqCollator,
                                       SpanCorruptionCollator, compute_input_and_target_lengths,
                                       positions_from_documents)
from framework.data.recipe import TokenizerConfig
from framework.data.tokenizer_train import train_tokenizer
from framework.models.gpt2 import GPT2ForCausalLM


def sample(tokens, docs=None, key=(0, 0)):
    tokens = np.asarray(tokens, dtype=np.int64)
    docs = np.zeros(len(tokens), np.int32) if docs is None else np.asarray(docs, dtype=np.int32)
    return Sample(tokens, docs, key)


def random_samples(n, length, vocab, low=0, seed=0):
    rng = np.random.default_rng(seed)
    return [sample(rng.integers(low, vocab, length), key=(seed, i)) for i in range(n)]


# -- causal ------------------------------------------------------------------------------------
def test_positions_restart_at_each_document():
    docs = torch.tensor([[0, 0, 0, 1, 1, 2], [0, 1, 1, 1, 1, 1]])
    assert positions_from_documents(docs).tolist() == [[0, 1, 2, 0, 1, 0], [0, 0, 1, 2, 3, 4]]


def test_causal_batch_keys_and_target_count():
    batch = CausalLMCollator(6)([sample([5, 6, 2, 7, 8, 2], [0, 0, 0, 1, 1, 1]), sample([9] * 6)])
    assert set(batch) == {"input_ids", "labels", "position_ids", "document_ids", "num_items"}
    assert torch.equal(batch["labels"], batch["input_ids"])
    assert batch["position_ids"][0].tolist() == [0, 1, 2, 0, 1, 2]
    assert int(batch["num_items"]) == 2 * 5
    plain = CausalLMCollator(6, document_mask=False)([sample([5, 6, 2, 7, 8, 2], [0, 0, 0, 1, 1, 1])])
    assert set(plain) == {"input_ids", "labels", "num_items"}


def test_packed_documents_do_not_see_each_other():
    torch.manual_seed(0)
    model = GPT2ForCausalLM.from_config(GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=32, vocab_size=50,
                                                   pad_token_id=0, bos_token_id=1, eos_token_id=2)).eval()
    a, b = [5, 9, 11, 2], [7, 8, 13, 21, 30, 2]
    packed = sample(a + b, [0] * len(a) + [1] * len(b))
    with torch.no_grad():
        batch = CausalLMCollator(10)([packed])
        got = model(**{k: v for k, v in batch.items() if k != "labels"}).logits[0, len(a):]
        alone = model(torch.tensor([b])).logits[0]
        assert torch.allclose(got, alone, atol=1e-5)
        leaky = model(**CausalLMCollator(10, document_mask=False)([packed])).logits[0, len(a):]
        assert not torch.allclose(leaky, alone, atol=1e-3)
        out = model(**batch)  # labels and num_items go straight into the model
        mean = model(batch["input_ids"], labels=batch["labels"], position_ids=batch["position_ids"],
                     document_ids=batch["document_ids"]).loss
        assert torch.allclose(out.loss, mean)


# -- masked LM ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wordpiece(docs):
    return train_tokenizer(TokenizerConfig(kind="wordpiece", vocab_size=400, lowercase=True), docs)


def test_mlm_masks_15_percent_with_80_10_10_and_never_specials(wordpiece):
    collator = MaskedLMCollator.from_tokenizer(wordpiece, 128)
    assert collator.sample_length == 127
    sep = wordpiece.sep_token_id
    samples = random_samples(64, 127, len(wordpiece), low=5)
    for s in samples:
        s.tokens[::20] = sep  # document separators in the packed stream
    batch = collator(samples)
    ids, labels = batch["input_ids"], batch["labels"]
    assert ids.shape == (64, 128) and (ids[:, 0] == wordpiece.cls_token_id).all()
    target = labels != -100
    assert abs(target.float().mean().item() - 0.15) < 0.015
    cls = torch.full((64, 1), wordpiece.cls_token_id)
    originals = torch.cat([cls, torch.from_numpy(np.stack([s.tokens for s in samples]))], 1)
    special = torch.isin(originals, torch.tensor(wordpiece.all_special_ids))
    assert not (target & special).any() and (ids[special] == originals[special]).all()
    assert torch.equal(labels[target], originals[target])
    masked = (ids[target] == wordpiece.mask_token_id).float().mean().item()
    kept = (ids[target] == originals[target]).float().mean().item()
    assert abs(masked - 0.8) < 0.03 and abs(kept - 0.1) < 0.03
    assert int(batch["num_items"]) == int(target.sum())
    assert set(batch) >= {"attention_mask", "token_type_ids"}
    assert torch.equal(collator(samples)["input_ids"], ids)  # a function of the samples' keys


def test_whole_word_masking_takes_words_whole(wordpiece, docs):
    collator = MaskedLMCollator.from_tokenizer(wordpiece, 257, whole_word=True, mlm_probability=0.3)
    ids = wordpiece(" ".join(docs[:4]), add_special_tokens=False)["input_ids"][:256]
    batch = collator([sample(ids, key=(0, k)) for k in range(8)])
    tokens = wordpiece.convert_ids_to_tokens(ids)
    words = np.cumsum([not t.startswith("##") for t in tokens])
    assert len(set(words.tolist())) < len(tokens)  # there are multi-piece words to test with
    for row in batch["labels"][:, 1:]:
        picked = (row != -100).numpy()
        for w in set(words.tolist()):
            assert len(set(picked[words == w].tolist())) == 1


# -- span corruption ---------------------------------------------------------------------------
def test_t5_lengths_fill_the_context():
    assert compute_input_and_target_lengths(512, 0.15, 3.0) == (568, 114)


def test_span_corruption_round_trips_and_fills_exactly():
    sentinels = list(range(999, 969, -1))  # <extra_id_0> has the highest id, as in T5
    collator = SpanCorruptionCollator(64, sentinels, eos_id=1, pad_id=0)
    samples = random_samples(50, collator.sample_length, 900, low=3)
    batch = collator(samples)
    assert batch["input_ids"].shape == (50, 64) and batch["labels"].shape == (50, collator.target_length)
    assert (batch["decoder_input_ids"][:, 0] == 0).all()
    assert torch.equal(batch["decoder_input_ids"][:, 1:], batch["labels"][:, :-1])
    noise, spans = 0, 0
    for s, inputs, targets in zip(samples, batch["input_ids"].tolist(), batch["labels"].tolist()):
        assert inputs[-1] == targets[-1] == 1
        pieces, current = {}, None
        for t in targets[:-1]:
            if t in sentinels:
                current = t
                pieces[t] = []
            else:
                pieces[current].append(t)
        rebuilt = [x for t in inputs[:-1] for x in (pieces[t] if t in sentinels else [t])]
        assert rebuilt == s.tokens.tolist()
        noise += sum(len(p) for p in pieces.values())
        spans += len(pieces)
    assert abs(noise / (50 * collator.sample_length) - 0.15) < 0.01
    assert abs(noise / spans - 3.0) < 0.5
    assert int(batch["num_items"]) == 50 * collator.target_length


def test_span_corruption_needs_enough_sentinels(docs):
    tok = train_tokenizer(TokenizerConfig(kind="unigram", vocab_size=300, extra_ids=10), docs[:10])
    with pytest.raises(DataError, match="sentinels"):
        SpanCorruptionCollator.from_tokenizer(tok, 512)
    collator = SpanCorruptionCollator.from_tokenizer(tok, 64)
    assert collator.sentinels[0] == tok.convert_tokens_to_ids("<extra_id_0>")


# -- fine-tuning -------------------------------------------------------------------------------
def test_seq2seq_pads_to_the_longest_in_the_batch():
    collator = Seq2SeqCollator(pad_id=0, decoder_start_id=5)
    batch = collator([{"input_ids": [7, 8, 9], "labels": [3, 4]}, {"input_ids": [7, 8, 9, 10, 11], "labels": [3]}])
    assert batch["input_ids"].tolist() == [[7, 8, 9, 0, 0], [7, 8, 9, 10, 11]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["labels"].tolist() == [[3, 4], [3, -100]]
    assert batch["decoder_input_ids"].tolist() == [[5, 3], [5, 3]]
    assert int(batch["num_items"]) == 3
    wide = Seq2SeqCollator(pad_id=0, pad_to_multiple_of=8)([{"input_ids": [1] * 9, "labels": [2]}])
    assert wide["input_ids"].shape == (1, 16) and wide["labels"].shape == (1, 8)


def test_classification_batches():
    collator = ClassificationCollator(pad_id=0)
    batch = collator([{"input_ids": [4, 5], "token_type_ids": [0, 0], "label": 2},
                      {"input_ids": [4, 5, 6], "token_type_ids": [0, 1, 1], "label": 0}])
    assert batch["input_ids"].tolist() == [[4, 5, 0], [4, 5, 6]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0], [0, 1, 1]]
    assert batch["labels"].dtype == torch.long and int(batch["num_items"]) == 2
    regression = collator([{"input_ids": [4], "label": 0.5}, {"input_ids": [4], "label": 1}])
    assert regression["labels"].dtype == torch.float and "token_type_ids" not in regression
    multi = collator([{"input_ids": [4], "label": [1.0, 0.0]}])
    assert multi["labels"].shape == (1, 2)
