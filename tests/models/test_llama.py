import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, LlamaConfig
from transformers import LlamaForCausalLM as StockLM
from transformers import LlamaForSequenceClassification as StockCls
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding as StockRope

from framework.models.common.rope import RotaryEmbedding
from framework.models.llama import LlamaForCausalLM, LlamaForSequenceClassification
from framework.models.registry import build, config_from_preset
from tests.models.parity import TOL, export_to_stock, import_stock, max_diff, padded_batch

LLAMA3_ROPE = dict(rope_type="llama3", rope_theta=500000.0, factor=32.0, low_freq_factor=1.0,
                   high_freq_factor=4.0, original_max_position_embeddings=64)


def tiny_config(**kw) -> LlamaConfig:
    base = dict(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                max_position_embeddings=128, vocab_size=97, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaConfig(**{**base, **kw})


def gqa_config(**kw) -> LlamaConfig:
    """4 query heads sharing 2 kv heads, head_dim (16) unrelated to hidden / heads (8), all biases on."""
    return tiny_config(num_key_value_heads=2, head_dim=16, attention_bias=True, mlp_bias=True, **kw)


def scrambled(model, std: float = 0.25):
    """Redraw every weight: HF's init (std 0.02, unit norms, zero biases) gives near-uniform
    attention that would hide RoPE, GQA or mask mistakes, and norms/biases that do nothing."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            p.copy_(1 + 0.3 * noise if name.endswith("norm.weight") else std * noise)
    return model.eval()


def stock_lm(config: LlamaConfig, **kw):
    return scrambled(StockLM._from_config(config, **kw))


def left_padded(vocab: int):
    """A left-padded batch with position ids as `generate` builds them (first real token at 0)."""
    ids, mask = padded_batch(vocab, left=True)
    return ids, mask, (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)


@pytest.mark.parametrize("config_fn", [tiny_config, gqa_config], ids=["mha", "gqa"])
def test_import_matches_stock_logits_with_padding(tmp_path, config_fn):
    stock = stock_lm(config_fn())
    ours = import_stock(stock, tmp_path)
    assert isinstance(ours, LlamaForCausalLM)
    ids, mask = padded_batch(97)
    lids, lmask, lpos = left_padded(97)
    with torch.no_grad():
        assert max_diff(ours(ids, attention_mask=mask).logits, stock(input_ids=ids, attention_mask=mask).logits, mask) < TOL
        got = ours(lids, attention_mask=lmask, position_ids=lpos).logits
        ref = stock(input_ids=lids, attention_mask=lmask, position_ids=lpos).logits
    assert max_diff(got, ref, lmask) < TOL


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_export_loads_in_stock_with_equal_logits(tmp_path, tied):
    ours = scrambled(LlamaForCausalLM.from_config(gqa_config(tie_word_embeddings=tied)))
    assert (ours.lm_head.weight is ours.model.embed_tokens.weight) == tied
    stock = export_to_stock(ours, AutoModelForCausalLM, tmp_path)
    assert type(stock).__name__ == "LlamaForCausalLM"
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == [
        "config.json", "generation_config.json", "model.safetensors"]
    with safe_open(tmp_path / "ours" / "model.safetensors", "pt") as f:
        assert ("lm_head.weight" in f.keys()) != tied
    assert (stock.lm_head.weight.data_ptr() == stock.model.embed_tokens.weight.data_ptr()) == tied
    ids, mask = padded_batch(97)
    with torch.no_grad():
        assert max_diff(ours(ids, attention_mask=mask).logits, stock(input_ids=ids, attention_mask=mask).logits, mask) < TOL


def test_llama3_rope_scaling_matches_stock(tmp_path):
    # The real Llama 3.2 1B frequencies, bit for bit.
    config = config_from_preset("llama-1b")
    rope = RotaryEmbedding.from_config(config, config.head_dim)
    assert torch.equal(rope.inv_freq, StockRope(config).inv_freq)
    # Whole-model parity with strided position ids: distances up to ~400 > the original context
    # (64) reach the scaled low frequencies, and RoPE being relative, only gaps test position_ids.
    stock = stock_lm(tiny_config(num_key_value_heads=2, rope_parameters=dict(LLAMA3_ROPE)))
    ours = import_stock(stock, tmp_path)
    ids, mask = padded_batch(97)
    pos = torch.arange(ids.shape[1])[None] * 37 + 3000
    with torch.no_grad():
        got = ours(ids, attention_mask=mask, position_ids=pos).logits
        assert max_diff(got, stock(input_ids=ids, attention_mask=mask, position_ids=pos).logits, mask) < TOL
        unscaled = stock_lm(tiny_config(num_key_value_heads=2, rope_parameters=dict(rope_type="default", rope_theta=500000.0)))
        assert max_diff(got, unscaled(input_ids=ids, attention_mask=mask, position_ids=pos).logits, mask) > 1e-2


def test_rope_frequencies_stay_fp32_under_dtype_casts():
    model = LlamaForCausalLM.from_config(tiny_config()).to(torch.bfloat16)
    rope = model.model.rotary_emb
    assert rope.inv_freq.dtype == torch.float32
    assert torch.equal(rope.inv_freq, StockRope(tiny_config()).inv_freq)
    assert "model.rotary_emb.inv_freq" not in model.state_dict()


def test_loss_matches_stock(tmp_path):
    stock = stock_lm(gqa_config())
    ours = import_stock(stock, tmp_path)
    ids, _ = padded_batch(97)
    labels = ids.masked_fill(ids == 0, -100)
    with torch.no_grad():
        assert abs(ours(ids, labels=labels).loss.item() - stock(input_ids=ids, labels=labels).loss.item()) < TOL
        got = ours(ids, labels=labels, num_items=50).loss.item()
        ref = stock(input_ids=ids, labels=labels, num_items_in_batch=torch.tensor(50)).loss.item()
    assert abs(got - ref) < TOL


def test_sequence_classification_round_trip(tmp_path):
    stock = scrambled(StockCls(gqa_config(num_labels=3)))
    ours = import_stock(stock, tmp_path)
    assert isinstance(ours, LlamaForSequenceClassification) and ours.tied_keys == {}
    ids, mask = padded_batch(97)
    with torch.no_grad():
        ref = stock(input_ids=ids, attention_mask=mask).logits
        assert max_diff(ours(ids, attention_mask=mask).logits, ref) < TOL
        back = export_to_stock(ours, AutoModelForSequenceClassification, tmp_path)
        assert max_diff(back(input_ids=ids, attention_mask=mask).logits, ref) < TOL
    labels = torch.tensor([0, 2, 1])
    assert abs(ours(ids, attention_mask=mask, labels=labels).loss.item()
               - stock(input_ids=ids, attention_mask=mask, labels=labels).loss.item()) < TOL


def test_kv_cache_matches_full_forward():
    model = scrambled(LlamaForCausalLM.from_config(gqa_config()))
    ids = torch.randint(3, 97, (2, 10))
    with torch.no_grad():
        full = model(ids).logits
        out = model(ids[:, :6], use_cache=True)
        assert out.past_key_values.keys[0].shape == (2, 2, 6, 16)  # (B, K, S, D): kv heads only
        step = [out.logits]
        for t in range(6, 10):
            out = model(ids[:, t:t + 1], past_key_values=out.past_key_values, use_cache=True)
            step.append(out.logits)
    assert max_diff(torch.cat(step, 1), full) < TOL


def test_attention_weights_on_request(tmp_path):
    stock = stock_lm(gqa_config(), attn_implementation="eager")
    model = import_stock(stock, tmp_path)
    ids = torch.randint(3, 97, (2, 7))
    with torch.no_grad():
        out = model(ids, output_attentions=True)
        ref = stock(input_ids=ids, output_attentions=True).attentions
        fast = model(ids).logits
    assert len(out.attentions) == 2 and out.attentions[0].shape == (2, 4, 7, 7)
    assert torch.allclose(out.attentions[0].sum(-1), torch.ones(2, 4, 7), atol=1e-5)
    assert out.attentions[0][0, 0].triu(1).abs().max() == 0  # causal
    assert all(max_diff(a, b) < TOL for a, b in zip(out.attentions, ref))
    assert max_diff(out.logits, fast) < TOL


def test_document_ids_block_cross_document_attention():
    model = scrambled(LlamaForCausalLM.from_config(gqa_config()))
    ids = torch.randint(3, 97, (2, 12))
    docs = torch.tensor([[0] * 5 + [1] * 7] * 2)
    pos = torch.cat([torch.arange(5), torch.arange(7)])[None].expand(2, 12)
    with torch.no_grad():
        packed = model(ids, position_ids=pos, document_ids=docs).logits
        first, second = model(ids[:, :5]).logits, model(ids[:, 5:]).logits
        leaky = model(ids, position_ids=pos).logits
    assert max_diff(packed[:, :5], first) < TOL
    assert max_diff(packed[:, 5:], second) < TOL
    assert max_diff(leaky[:, 5:], second) > 1e-2  # without the mask the second document sees the first


def test_hf_default_init():
    model = LlamaForCausalLM.from_config(gqa_config(num_hidden_layers=1, hidden_size=256, tie_word_embeddings=True))
    layer = model.model.layers[0]
    assert abs(layer.mlp.gate_proj.weight.std().item() - 0.02) < 0.002
    assert layer.self_attn.q_proj.bias.abs().max() == 0 and layer.mlp.down_proj.bias.abs().max() == 0
    assert torch.equal(layer.input_layernorm.weight, torch.ones(256)) and torch.equal(model.model.norm.weight, torch.ones(256))
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert model.model.embed_tokens.weight[0].abs().max() == 0  # padding row, as HF


def test_presets_are_the_published_architectures():
    assert build("llama-debug").num_parameters() < 200_000
    with torch.device("meta"):
        one_b, seven_b = build("llama-1b"), build("llama-7b")
    assert one_b.num_parameters() == 1_235_814_400 and one_b.tied_keys  # Llama 3.2 1B
    assert seven_b.num_parameters() == 6_738_415_616 and not seven_b.tied_keys  # Llama 2 7B
    attn = one_b.model.layers[0].self_attn
    assert (attn.num_heads, attn.num_kv_heads, attn.head_dim) == (32, 8, 64)
    assert one_b.config.rope_parameters["rope_type"] == "llama3" and one_b.config.rope_parameters["factor"] == 32.0
