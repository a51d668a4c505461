import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, GPT2Config
from transformers import GPT2ForSequenceClassification as StockCls
from transformers import GPT2LMHeadModel as StockLM

from framework.models.gpt2 import GPT2ForCausalLM, GPT2ForSequenceClassification
from tests.models.parity import TOL, export_to_stock, import_stock, max_diff, padded_batch


def tiny_config(**kw) -> GPT2Config:
    return GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64, vocab_size=97, pad_token_id=0,
                      bos_token_id=1, eos_token_id=2, **kw)


def test_import_matches_stock_logits_with_padding(tmp_path):
    stock = StockLM(tiny_config()).eval()
    ours = import_stock(stock, tmp_path)
    assert isinstance(ours, GPT2ForCausalLM)
    ids, mask = padded_batch(97)
    with torch.no_grad():
        ref = stock(input_ids=ids, attention_mask=mask).logits
        got = ours(ids, attention_mask=mask).logits
    assert max_diff(got, ref, mask) < TOL


def test_export_loads_in_stock_with_equal_logits(tmp_path):
    ours = GPT2ForCausalLM.from_config(tiny_config()).eval()
    stock = export_to_stock(ours, AutoModelForCausalLM, tmp_path)
    assert type(stock).__name__ == "GPT2LMHeadModel"
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == [
        "config.json", "generation_config.json", "model.safetensors"]
    ids, mask = padded_batch(97)
    with torch.no_grad():
        assert max_diff(ours(ids, attention_mask=mask).logits, stock(input_ids=ids, attention_mask=mask).logits, mask) < TOL


def test_loss_matches_stock(tmp_path):
    stock = StockLM(tiny_config()).eval()
    ours = import_stock(stock, tmp_path)
    ids, _ = padded_batch(97)
    with torch.no_grad():
        assert abs(ours(ids, labels=ids).loss.item() - stock(input_ids=ids, labels=ids).loss.item()) < TOL


def test_sequence_classification_round_trip(tmp_path):
    stock = StockCls(tiny_config(num_labels=3)).eval()
    ours = import_stock(stock, tmp_path)
    assert isinstance(ours, GPT2ForSequenceClassification)
    ids, mask = padded_batch(97)
    with torch.no_grad():
        assert max_diff(ours(ids, attention_mask=mask).logits, stock(input_ids=ids, attention_mask=mask).logits) < TOL
    back = export_to_stock(ours, AutoModelForSequenceClassification, tmp_path)
    with torch.no_grad():
        assert max_diff(back(input_ids=ids, attention_mask=mask).logits, stock(input_ids=ids, attention_mask=mask).logits) < TOL


def test_kv_cache_matches_full_forward():
    model = GPT2ForCausalLM.from_config(tiny_config()).eval()
    ids = torch.randint(3, 97, (2, 10))
    with torch.no_grad():
        full = model(ids).logits
        out = model(ids[:, :6], use_cache=True)
        step = [out.logits]
        for t in range(6, 10):
            out = model(ids[:, t:t + 1], past_key_values=out.past_key_values, use_cache=True)
            step.append(out.logits)
    assert max_diff(torch.cat(step, 1), full) < TOL


def test_attention_weights_on_request():
    model = GPT2ForCausalLM.from_config(tiny_config()).eval()
    ids = torch.randint(3, 97, (2, 7))
    out = model(ids, output_attentions=True)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (2, 4, 7, 7)
    assert torch.allclose(out.attentions[0].sum(-1), torch.ones(2, 4, 7), atol=1e-5)
    assert out.attentions[0][0, 0].triu(1).abs().max() == 0  # causal
    assert max_diff(out.logits, model(ids).logits) < TOL


def test_init_scales_residual_projections():
    model = GPT2ForCausalLM.from_config(GPT2Config(n_layer=8, n_embd=256, n_head=4, vocab_size=97))
    std_proj = model.transformer.h[0].attn.c_proj.weight.std().item()
    std_fc = model.transformer.h[0].mlp.c_fc.weight.std().item()
    assert abs(std_fc - 0.02) < 0.002 and abs(std_proj - 0.02 / 4) < 0.001
    assert model.lm_head.weight is model.transformer.wte.weight


def test_untied_lm_head_round_trips(tmp_path):
    stock = StockLM(tiny_config(tie_word_embeddings=False)).eval()
    with torch.no_grad():
        stock.lm_head.weight.normal_()
    ours = import_stock(stock, tmp_path)
    assert ours.lm_head.weight is not ours.transformer.wte.weight
    ids, mask = padded_batch(97)
    with torch.no_grad():
        assert max_diff(ours(ids, attention_mask=mask).logits, stock(input_ids=ids, attention_mask=mask).logits, mask) < TOL
    back = export_to_stock(ours, AutoModelForCausalLM, tmp_path)
    assert torch.equal(back.lm_head.weight, stock.lm_head.weight)
