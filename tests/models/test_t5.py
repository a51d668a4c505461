import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from transformers import AutoModelForSeq2SeqLM, T5Config
from transformers import T5ForConditionalGeneration as StockT5
from transformers.models.t5.modeling_t5 import T5Attention as StockAttention

from framework.models.common.seq2seq import shift_tokens_right
from framework.models.registry import build, resolve_class
from framework.models.t5 import T5ForConditionalGeneration
from framework.models.t5.modeling import relative_position_bucket
from tests.models.parity import TOL, export_to_stock, import_stock, max_diff, padded_batch

V = 97
# (feed_forward_proj, tie_word_embeddings): original T5 (tied head, rescaled output), v1.1 (untied, no rescale)
VARIANTS = [("relu", True), ("gated-gelu", False)]


def tiny_config(ff: str = "relu", tie: bool = True, **kw) -> T5Config:
    # Few buckets and a short max distance so that short test sequences reach the log-spaced and
    # the clamped buckets; 3 decoder layers vs 2 encoder layers to catch a swapped layer count.
    base = dict(vocab_size=V, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=3, num_heads=4,
                relative_attention_num_buckets=8, relative_attention_max_distance=20, pad_token_id=0,
                eos_token_id=1, decoder_start_token_id=0)
    return T5Config(**{**base, **kw}, feed_forward_proj=ff, tie_word_embeddings=tie)


def stock_model(ff: str, tie: bool, **kw) -> StockT5:
    """A random stock T5. transformers 5.x ties `lm_head` even for `tie_word_embeddings=False`
    (only the rescale follows the flag), so the untied variant gets its own head here."""
    torch.manual_seed(0)
    model = StockT5(tiny_config(ff, tie, **kw))
    if not tie:
        model.lm_head.weight = torch.nn.Parameter(torch.randn(V, 32))
    return model.eval()


def batches():
    """Encoder (B, 20) and decoder (B, 25) batches, each with a different amount of right padding per row."""
    ids, mask = padded_batch(V, B=3, L=20)
    dec, dec_mask = padded_batch(V, B=3, L=25, seed=1)
    return ids, mask, dec, dec_mask


def run(model, ids, mask, dec, dec_mask, stock=False, **kw):
    with torch.no_grad():
        if stock:
            return model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask, **kw)
        return model(ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask, **kw)


@pytest.mark.parametrize("ff,tie", VARIANTS)
def test_import_matches_stock_logits_with_padding(tmp_path, ff, tie):
    stock = stock_model(ff, tie)
    ours = import_stock(stock, tmp_path)
    assert isinstance(ours, T5ForConditionalGeneration)
    assert ours.lm_head_tied == tie and (ours.lm_head.weight is ours.shared.weight) == tie
    assert ours.encoder.embed_tokens.weight is ours.shared.weight is ours.decoder.embed_tokens.weight
    ids, mask, dec, dec_mask = batches()
    ref, got = run(stock, ids, mask, dec, dec_mask, stock=True), run(ours, ids, mask, dec, dec_mask)
    assert max_diff(got.encoder_last_hidden_state, ref.encoder_last_hidden_state, mask) < TOL
    assert max_diff(got.logits, ref.logits, dec_mask) < TOL


def test_import_of_stock_gated_config_without_own_head(tmp_path):
    """Stock 5.x saves a fresh `tie_word_embeddings=False` T5 with a tied head and no rescale; so do we."""
    torch.manual_seed(0)
    stock = StockT5(tiny_config("gated-gelu", tie=False)).eval()
    ours = import_stock(stock, tmp_path)
    assert ours.lm_head_tied and not ours.scale_decoder_outputs
    ids, mask, dec, dec_mask = batches()
    ref, got = run(stock, ids, mask, dec, dec_mask, stock=True), run(ours, ids, mask, dec, dec_mask)
    assert max_diff(got.logits, ref.logits, dec_mask) < TOL


@pytest.mark.parametrize("ff,tie", VARIANTS)
def test_export_loads_in_stock_with_equal_logits(tmp_path, ff, tie):
    torch.manual_seed(0)
    ours = T5ForConditionalGeneration.from_config(tiny_config(ff, tie)).eval()
    stock = export_to_stock(ours, AutoModelForSeq2SeqLM, tmp_path)
    assert type(stock).__name__ == "T5ForConditionalGeneration"
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == [
        "config.json", "generation_config.json", "model.safetensors"]
    with safe_open(tmp_path / "ours" / "model.safetensors", "pt") as f:
        keys = set(f.keys())
    assert "shared.weight" in keys and not {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"} & keys
    assert ("lm_head.weight" in keys) == (not tie)
    assert (stock.lm_head.weight is stock.shared.weight) == tie
    ids, mask, dec, dec_mask = batches()
    ref, got = run(stock, ids, mask, dec, dec_mask, stock=True), run(ours, ids, mask, dec, dec_mask)
    assert max_diff(got.logits, ref.logits, dec_mask) < TOL
    assert stock.generation_config.decoder_start_token_id == 0


def test_loss_matches_stock_with_ignored_labels(tmp_path):
    stock = stock_model("gated-gelu", False)
    ours = import_stock(stock, tmp_path)
    ids, mask, labels, label_mask = batches()
    labels = labels.masked_fill(label_mask == 0, -100)
    with torch.no_grad():
        ref = stock(input_ids=ids, attention_mask=mask, labels=labels)
        got = ours(ids, attention_mask=mask, labels=labels)
        n = int((labels != -100).sum())
        summed = ours(ids, attention_mask=mask, labels=labels, num_items=n).loss
        smoothed = ours(ids, attention_mask=mask, labels=labels, label_smoothing=0.1).loss
    assert abs(got.loss.item() - ref.loss.item()) < TOL
    assert max_diff(got.logits, ref.logits) < TOL  # decoder inputs were shifted the same way
    assert abs(summed.item() - got.loss.item()) < TOL
    expect = F.cross_entropy(got.logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100, label_smoothing=0.1)
    assert abs(smoothed.item() - expect.item()) < TOL and abs(smoothed.item() - got.loss.item()) > 1e-3


def test_shift_tokens_right():
    labels = torch.tensor([[5, 6, 7, 1], [8, 1, -100, -100]])
    assert shift_tokens_right(labels, 0, 3).tolist() == [[3, 5, 6, 7], [3, 8, 1, 0]]


def test_kv_cache_matches_full_forward():
    torch.manual_seed(0)
    model = T5ForConditionalGeneration.from_config(tiny_config("gated-gelu", False)).eval()
    ids, mask = padded_batch(V, B=2, L=9)
    dec = torch.randint(3, V, (2, 16))
    with torch.no_grad():
        enc = model.encode(ids, mask)
        full = model(attention_mask=mask, decoder_input_ids=dec, encoder_outputs=enc).logits
        out = model(attention_mask=mask, decoder_input_ids=dec[:, :5], encoder_outputs=enc, use_cache=True)
        cache = out.past_key_values
        cross_k = cache.cross_attn.keys[0]
        steps = [out.logits]
        for t in range(5, 16):
            out = model(attention_mask=mask, decoder_input_ids=dec[:, t:t + 1], encoder_outputs=enc,
                        past_key_values=cache, use_cache=True)
            steps.append(out.logits)
    assert out.past_key_values is cache and cache.seq_len() == 16
    assert cache.cross_attn.keys[0] is cross_k and cross_k.shape == (2, 4, 9, 8)  # projected once
    assert max_diff(torch.cat(steps, 1), full) < TOL


def test_attention_weights_on_request(tmp_path):
    stock = stock_model("relu", True, attn_implementation="eager")
    ours = import_stock(stock, tmp_path)
    ids, mask, dec, dec_mask = batches()
    ref = run(stock, ids, mask, dec, dec_mask, stock=True, output_attentions=True)
    got = run(ours, ids, mask, dec, dec_mask, output_attentions=True)
    assert len(got.encoder_attentions) == 2 and got.encoder_attentions[0].shape == (3, 4, 20, 20)
    assert len(got.decoder_attentions) == 3 and got.decoder_attentions[0].shape == (3, 4, 25, 25)
    assert len(got.cross_attentions) == 3 and got.cross_attentions[0].shape == (3, 4, 25, 20)
    for name in ("encoder_attentions", "decoder_attentions", "cross_attentions"):
        for mine, theirs in zip(getattr(got, name), getattr(ref, name), strict=True):
            assert max_diff(mine, theirs) < TOL, name
            assert torch.allclose(mine.sum(-1), torch.ones(mine.shape[:-1]), atol=1e-5)
    pad_keys = (mask == 0)[:, None, None, :].expand_as(got.cross_attentions[0])
    assert pad_keys.any() and got.cross_attentions[-1][pad_keys].abs().max() == 0
    assert got.encoder_attentions[0][pad_keys[:, :, :20]].abs().max() == 0
    assert got.decoder_attentions[1][0, 0].triu(1).abs().max() == 0  # causal
    assert max_diff(got.logits, run(ours, ids, mask, dec, dec_mask).logits) < TOL  # SDPA path agrees


def test_relative_position_bucket_matches_stock():
    rel = torch.arange(-300, 300)[None, :]
    for bidirectional in (True, False):
        for buckets, distance in ((32, 128), (8, 20)):
            ref = StockAttention._relative_position_bucket(rel, bidirectional, buckets, distance)
            assert torch.equal(relative_position_bucket(rel, bidirectional, buckets, distance), ref)


def test_training_reaches_position_bias_and_ignores_legacy_key():
    torch.manual_seed(0)
    model = T5ForConditionalGeneration.from_config(tiny_config()).train()
    ids, mask, labels, _ = batches()
    model(ids, attention_mask=mask, labels=labels).loss.backward()
    for stack in (model.encoder, model.decoder):
        assert stack.block[0].layer[0].SelfAttention.relative_attention_bias.weight.grad.abs().sum() > 0
        assert not hasattr(stack.block[1].layer[0].SelfAttention, "relative_attention_bias")
    state = model.hf_state_dict()
    state["decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"] = torch.zeros(8, 4)
    model.load_hf_state_dict(state)


def test_init_follows_hf_scheme():
    cfg = tiny_config("gated-gelu", False, d_model=256, d_kv=32, d_ff=1024, num_heads=8, initializer_factor=0.5)
    model = T5ForConditionalGeneration.from_config(cfg)
    attn, ff = model.encoder.block[0].layer[0].SelfAttention, model.decoder.block[0].layer[2].DenseReluDense
    for weight, std in ((attn.q.weight, 0.5 * (256 * 32) ** -0.5), (attn.k.weight, 0.5 / 16), (attn.o.weight, 0.5 / 16),
                        (ff.wi_0.weight, 0.5 / 16), (ff.wo.weight, 0.5 / 32), (model.shared.weight, 0.5),
                        (model.lm_head.weight, 0.5)):
        assert abs(weight.std().item() - std) < 0.1 * std
    assert torch.all(model.decoder.final_layer_norm.weight == 0.5)
    assert model.lm_head.weight is not model.shared.weight
    assert model.encoder.embed_tokens.weight is model.shared.weight


def test_presets_and_task():
    model = build("t5-debug")
    assert isinstance(model, T5ForConditionalGeneration) and model.lm_head_tied
    assert len(model.encoder.block) == len(model.decoder.block) == 2
    assert resolve_class(model.config, "seq2seq-lm") is T5ForConditionalGeneration
    assert T5ForConditionalGeneration.block_classes == (type(model.encoder.block[0]),)
