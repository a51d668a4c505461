import math

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import AutoModelForSeq2SeqLM, MarianConfig
from transformers import MarianMTModel as StockMT

from framework.models.common.sinusoidal import sinusoidal_table
from framework.models.registry import build
from framework.models.transformer import TransformerForSeq2SeqLM
from tests.models.parity import TOL, export_to_stock, import_stock, max_diff, padded_batch

V = 97


def tiny_config(**kw) -> MarianConfig:
    base = dict(vocab_size=V, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64,
                pad_token_id=0, eos_token_id=1, forced_eos_token_id=1, decoder_start_token_id=0,
                activation_function="relu", scale_embedding=True)
    return MarianConfig(**{**base, **kw})


def random_bias_(model) -> None:
    """final_logits_bias starts at zero; make it count in the comparisons."""
    with torch.no_grad():
        model.final_logits_bias.normal_(generator=torch.Generator().manual_seed(3))


def batches():
    """Source (B, 12) and target (B, 9) with a different amount of right padding per row."""
    src, src_mask = padded_batch(V, L=12)
    tgt, tgt_mask = padded_batch(V, L=9, seed=1)
    return src, src_mask, tgt, tgt_mask


def test_import_matches_stock_logits_with_padding(tmp_path):
    torch.manual_seed(0)
    stock = StockMT(tiny_config()).eval()
    random_bias_(stock)
    ours = import_stock(stock, tmp_path)
    assert isinstance(ours, TransformerForSeq2SeqLM)
    src, src_mask, tgt, tgt_mask = batches()
    with torch.no_grad():
        ref = stock(input_ids=src, attention_mask=src_mask, decoder_input_ids=tgt, decoder_attention_mask=tgt_mask)
        got = ours(src, src_mask, tgt, tgt_mask)
    assert max_diff(got.logits, ref.logits, tgt_mask) < TOL
    assert max_diff(got.encoder_last_hidden_state, ref.encoder_last_hidden_state, src_mask) < TOL


def test_export_loads_in_stock_with_equal_logits(tmp_path):
    torch.manual_seed(0)
    ours = TransformerForSeq2SeqLM.from_config(tiny_config()).eval()
    random_bias_(ours)
    stock = export_to_stock(ours, AutoModelForSeq2SeqLM, tmp_path)
    assert type(stock).__name__ == "MarianMTModel"
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == [
        "config.json", "generation_config.json", "model.safetensors"]
    saved = load_file(tmp_path / "ours" / "model.safetensors")
    assert "final_logits_bias" in saved and "model.shared.weight" in saved
    assert not any("embed_positions" in k or k == "lm_head.weight" for k in saved)  # as stock saves
    assert stock.generation_config.decoder_start_token_id == 0
    src, src_mask, tgt, tgt_mask = batches()
    with torch.no_grad():
        ref = stock(input_ids=src, attention_mask=src_mask, decoder_input_ids=tgt, decoder_attention_mask=tgt_mask)
        assert max_diff(ours(src, src_mask, tgt, tgt_mask).logits, ref.logits, tgt_mask) < TOL


def test_untied_vocabularies_round_trip(tmp_path):
    """Separate source/target vocabularies (decoder_vocab_size): lm_head tied to the decoder's."""
    torch.manual_seed(0)
    stock = StockMT(tiny_config(share_encoder_decoder_embeddings=False, decoder_vocab_size=53)).eval()
    ours = import_stock(stock, tmp_path)
    assert ours.lm_head.weight is ours.model.decoder.embed_tokens.weight
    src, src_mask, _, _ = batches()
    tgt = torch.randint(1, 53, (3, 5))
    with torch.no_grad():
        ref = stock(input_ids=src, attention_mask=src_mask, decoder_input_ids=tgt).logits
        assert ref.shape[-1] == 53 and max_diff(ours(src, src_mask, tgt).logits, ref) < TOL
    back = export_to_stock(ours, AutoModelForSeq2SeqLM, tmp_path)
    with torch.no_grad():
        assert max_diff(back(input_ids=src, attention_mask=src_mask, decoder_input_ids=tgt).logits, ref) < TOL


def test_loss_matches_stock_with_ignored_labels(tmp_path):
    torch.manual_seed(0)
    stock = StockMT(tiny_config()).eval()
    random_bias_(stock)
    ours = import_stock(stock, tmp_path)
    src, src_mask, tgt, tgt_mask = batches()
    labels = tgt.masked_fill(tgt_mask == 0, -100)
    with torch.no_grad():
        ref = stock(input_ids=src, attention_mask=src_mask, labels=labels)
        got = ours(src, src_mask, labels=labels)
        assert abs(got.loss.item() - ref.loss.item()) < TOL
        assert max_diff(got.logits, ref.logits) < TOL  # same shifted decoder inputs (start=pad, -100 -> pad)
        # The paper's label smoothing and the engine's global token count, on the same logits.
        smooth = ours(src, src_mask, labels=labels, label_smoothing=0.1).loss
        expect = F.cross_entropy(got.logits.reshape(-1, V), labels.reshape(-1), label_smoothing=0.1)
        assert abs(smooth.item() - expect.item()) < TOL and abs(smooth.item() - got.loss.item()) > 1e-3
        n = int((labels != -100).sum())
        summed = ours(src, src_mask, labels=labels, num_items=2 * n).loss
        assert abs(summed.item() - got.loss.item() / 2) < TOL


def test_kv_cache_matches_full_forward():
    torch.manual_seed(0)
    model = TransformerForSeq2SeqLM.from_config(tiny_config()).eval()
    src, src_mask, _, _ = batches()
    tgt = torch.randint(2, V, (3, 8))
    with torch.no_grad():
        full = model(src, src_mask, tgt).logits
        enc = model.encode(src, src_mask)
        out = model(attention_mask=src_mask, decoder_input_ids=tgt[:, :5], encoder_outputs=enc, use_cache=True)
        cache = out.past_key_values
        assert cache.seq_len() == 5 and all(cache.cross_attn.has(i) for i in range(2))
        steps = [out.logits]
        # Cross-attention keys/values must come from the cache now: wrong encoder states must not matter.
        garbage = (torch.randn_like(enc.last_hidden_state),)
        for t in range(5, 8):
            out = model(attention_mask=src_mask, decoder_input_ids=tgt[:, t:t + 1], encoder_outputs=garbage,
                        past_key_values=cache, use_cache=True)
            steps.append(out.logits)
        assert cache.seq_len() == 8
    assert max_diff(torch.cat(steps, 1), full) < TOL


def test_sinusoids_follow_the_paper_in_marian_layout():
    P, C = 50, 32
    pe = torch.zeros(P, C, dtype=torch.float64)  # the paper: PE(pos,2i)=sin(.), PE(pos,2i+1)=cos(.)
    for pos in range(P):
        for i in range(C // 2):
            angle = pos / 10000 ** (2 * i / C)
            pe[pos, 2 * i], pe[pos, 2 * i + 1] = math.sin(angle), math.cos(angle)
    model = TransformerForSeq2SeqLM.from_config(tiny_config(d_model=C, max_position_embeddings=P))
    for table in (model.model.encoder.embed_positions.weight, model.model.decoder.embed_positions.weight):
        assert table.shape == (P, C)
        assert max_diff(table[:, : C // 2], pe[:, 0::2].float()) < 1e-6  # sines first ...
        assert max_diff(table[:, C // 2:], pe[:, 1::2].float()) < 1e-6  # ... then cosines
    assert max_diff(sinusoidal_table(P, C, interleaved=True), pe.float()) < 1e-6
    stock_table = StockMT(tiny_config(d_model=C, max_position_embeddings=P)).model.encoder.embed_positions.weight
    assert max_diff(model.model.encoder.embed_positions.weight, stock_table) < 1e-6


def test_attention_weights_on_request():
    torch.manual_seed(0)
    model = TransformerForSeq2SeqLM.from_config(tiny_config()).eval()
    src, src_mask, tgt, tgt_mask = batches()
    with torch.no_grad():
        out = model(src, src_mask, tgt, tgt_mask, output_attentions=True)
        plain = model(src, src_mask, tgt, tgt_mask)
    assert max_diff(out.logits, plain.logits) < TOL
    assert plain.encoder_attentions is None and plain.decoder_attentions is None and plain.cross_attentions is None
    enc, dec, cross = out.encoder_attentions, out.decoder_attentions, out.cross_attentions
    assert len(enc) == len(dec) == len(cross) == 2
    assert enc[0].shape == (3, 4, 12, 12) and dec[0].shape == (3, 4, 9, 9) and cross[0].shape == (3, 4, 9, 12)
    for w in (*enc, *dec, *cross):
        assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1]), atol=1e-5)
    src_pad = (src_mask == 0)[:, None, None, :]  # (B, 1, 1, S)
    tgt_pad = (tgt_mask == 0)[:, None, None, :]  # (B, 1, 1, L)
    assert src_pad.any() and tgt_pad.any()
    for layer in range(2):
        assert cross[layer].masked_select(src_pad).abs().max() == 0  # no attention to source padding
        assert enc[layer].masked_select(src_pad).abs().max() == 0
        assert dec[layer].triu(1).abs().max() == 0  # look-ahead: nothing from the future
        assert dec[layer].masked_select(tgt_pad).abs().max() == 0  # nor from target padding
        assert cross[layer].min() >= 0 and cross[layer][0].amin(-1).gt(0).all()  # unpadded row sees all


def test_preset_init_and_ties():
    model = build("transformer-debug")
    assert isinstance(model, TransformerForSeq2SeqLM) and model.config.model_type == "marian"
    shared = model.model.shared.weight
    assert model.lm_head.weight is shared
    assert model.model.encoder.embed_tokens.weight is shared and model.model.decoder.embed_tokens.weight is shared
    assert shared[0].abs().max() == 0  # padding row, as HF's init
    assert abs(model.model.encoder.layers[0].fc1.weight.std().item() - model.config.init_std) < 0.003
    assert model.model.encoder.layers[0].fc1.bias.abs().max() == 0 and model.final_logits_bias.abs().max() == 0
    assert model.config.decoder_start_token_id == model.config.pad_token_id == 0
    ids = torch.randint(2, 512, (2, 6))
    assert model(ids, decoder_input_ids=ids).logits.shape == (2, 6, 512)
