import pytest
import torch
import torch.nn.functional as F
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    BertConfig,
)
from transformers import BertForMaskedLM as StockMLM
from transformers import BertForSequenceClassification as StockCls
from transformers import BertModel as StockBase

import framework
from framework.models.bert import BertForMaskedLM, BertForSequenceClassification, BertLayer, BertModel
from framework.models.registry import build, config_from_preset, resolve_class
from tests.models.parity import TOL, export_to_stock, import_stock, max_diff, padded_batch

V = 97


def tiny_config(**kw) -> BertConfig:
    return BertConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=64,
                      max_position_embeddings=64, vocab_size=V, type_vocab_size=2, pad_token_id=0, **kw)


def perturb(model):
    """Weights of a realistic scale, LayerNorm affines included: with HF's 0.02 init every sublayer
    adds so little to its residual that a missing LayerNorm would still pass within TOL."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied parameters are listed once
            noise = 0.2 * torch.randn(p.shape, generator=g)
            p.copy_(1 + noise if name.endswith("LayerNorm.weight") else noise)
    return model.eval()


def batch():
    """Right-padded ids, mask, and two segments per row (token type 1 from the middle on)."""
    ids, mask = padded_batch(V)
    types = torch.zeros_like(ids)
    types[:, ids.shape[1] // 2:] = 1
    return ids, mask, types * mask


def outputs(model, ids, mask, types, stock: bool = False) -> dict[str, torch.Tensor]:
    """The tensors worth comparing, by name; `None` pooler (MLM) is left out."""
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types) if stock else \
            model(ids, attention_mask=mask, token_type_ids=types)
    names = ("last_hidden_state", "pooler_output", "logits")
    return {n: getattr(out, n) for n in names if getattr(out, n, None) is not None}


def assert_same(got: dict, ref: dict, mask: torch.Tensor) -> None:
    assert got.keys() == ref.keys() and got
    for name in ref:
        per_token = ref[name].dim() == 3  # (B, L, *) compared on real tokens only
        assert max_diff(got[name], ref[name], mask if per_token else None) < TOL, name


CASES = [  # stock class, zoo class, stock Auto class, config kwargs
    (StockBase, BertModel, AutoModel, {}),
    (StockMLM, BertForMaskedLM, AutoModelForMaskedLM, {}),
    (StockCls, BertForSequenceClassification, AutoModelForSequenceClassification, {"num_labels": 3}),
]


@pytest.mark.parametrize("stock_cls, zoo_cls, auto_cls, kw", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_import_matches_stock_with_padding_and_token_types(tmp_path, stock_cls, zoo_cls, auto_cls, kw):
    stock = perturb(stock_cls(tiny_config(**kw)))
    ours = import_stock(stock, tmp_path)
    assert type(ours) is zoo_cls
    ids, mask, types = batch()
    assert_same(outputs(ours, ids, mask, types), outputs(stock, ids, mask, types, stock=True), mask)


@pytest.mark.parametrize("stock_cls, zoo_cls, auto_cls, kw", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_export_loads_in_stock_with_equal_outputs(tmp_path, stock_cls, zoo_cls, auto_cls, kw):
    ours = perturb(zoo_cls.from_config(tiny_config(**kw)))
    stock = export_to_stock(ours, auto_cls, tmp_path)  # asserts no missing/unexpected keys
    assert type(stock) is stock_cls
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == ["config.json", "model.safetensors"]
    ids, mask, types = batch()
    assert_same(outputs(ours, ids, mask, types), outputs(stock, ids, mask, types, stock=True), mask)


def test_mlm_export_has_stock_keys_and_ties():
    ours = BertForMaskedLM.from_config(tiny_config())
    stock = StockMLM(tiny_config())
    saved = set(stock.state_dict()) - set(stock.all_tied_weights_keys)  # what stock writes
    assert set(ours.hf_state_dict()) == saved
    assert ours.cls.predictions.decoder.weight is ours.bert.embeddings.word_embeddings.weight
    assert ours.cls.predictions.decoder.bias is ours.cls.predictions.bias


def test_untied_mlm_round_trip(tmp_path):
    """With tie_word_embeddings=False stock stores decoder.weight/bias itself; they must be read."""
    stock = perturb(StockMLM(tiny_config(tie_word_embeddings=False)))
    ours = import_stock(stock, tmp_path)
    assert ours.cls.predictions.decoder.weight is not ours.bert.embeddings.word_embeddings.weight
    ids, mask, types = batch()
    assert_same(outputs(ours, ids, mask, types), outputs(stock, ids, mask, types, stock=True), mask)
    back = export_to_stock(ours, AutoModelForMaskedLM, tmp_path)
    assert_same(outputs(back, ids, mask, types, stock=True), outputs(stock, ids, mask, types, stock=True), mask)


def test_mlm_loss_matches_stock_and_num_items(tmp_path):
    stock = perturb(StockMLM(tiny_config()))
    ours = import_stock(stock, tmp_path)
    ids, mask, types = batch()
    labels = ids.masked_fill(torch.rand(ids.shape) < 0.6, -100).masked_fill(mask == 0, -100)
    n = int((labels != -100).sum())
    assert 0 < n < labels.numel()
    with torch.no_grad():
        ref = stock(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels).loss.item()
        got = ours(ids, attention_mask=mask, token_type_ids=types, labels=labels).loss.item()
        summed = ours(ids, attention_mask=mask, token_type_ids=types, labels=labels, num_items=2 * n).loss.item()
    assert abs(got - ref) < TOL
    assert abs(summed - ref / 2) < TOL  # sum over scored tokens divided by num_items


def test_multi_label_loss_matches_stock(tmp_path):
    stock = perturb(StockCls(tiny_config(num_labels=4, problem_type="multi_label_classification")))
    ours = import_stock(stock, tmp_path)
    ids, mask, types = batch()
    labels = (torch.rand(ids.shape[0], 4) > 0.5).float()
    with torch.no_grad():
        ref = stock(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels).loss.item()
        got = ours(ids, attention_mask=mask, token_type_ids=types, labels=labels).loss.item()
    assert abs(got - ref) < TOL


@pytest.mark.parametrize("num_labels, labels", [
    (3, torch.tensor([0, 2, 1])),  # single-label from integer targets
    (1, torch.tensor([0.5, -1.0, 2.0])),  # regression
])
def test_inferred_problem_type_loss_matches_stock(tmp_path, num_labels, labels):
    stock = perturb(StockCls(tiny_config(num_labels=num_labels)))
    ours = import_stock(stock, tmp_path)
    ids, mask, types = batch()
    with torch.no_grad():
        ref = stock(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels).loss.item()
        got = ours(ids, attention_mask=mask, token_type_ids=types, labels=labels).loss.item()
    assert abs(got - ref) < TOL
    assert ours.config.problem_type == stock.config.problem_type


def test_class_weights_reweight_single_label_loss():
    model = BertForSequenceClassification.from_config(tiny_config(num_labels=3)).eval()
    ids, mask, types = batch()
    labels = torch.tensor([0, 2, 2])
    weights = torch.tensor([1.0, 1.0, 5.0])
    with torch.no_grad():
        out = model(ids, attention_mask=mask, token_type_ids=types, labels=labels, class_weights=weights)
        plain = model(ids, attention_mask=mask, token_type_ids=types, labels=labels).loss
    assert abs(out.loss.item() - F.cross_entropy(out.logits, labels, weight=weights).item()) < TOL
    assert abs(plain.item() - F.cross_entropy(out.logits, labels).item()) < TOL
    assert abs(out.loss.item() - plain.item()) > 1e-3  # the weights did something
    with torch.no_grad():
        summed = model(ids, attention_mask=mask, token_type_ids=types, labels=labels, class_weights=weights,
                       num_items=4).loss
    per_example = F.cross_entropy(out.logits, labels, reduction="none") * weights[labels]
    assert abs(summed.item() - per_example.sum().item() / 4) < TOL  # weighted sum / num_items


@pytest.mark.parametrize("num_labels, labels", [
    (3, torch.tensor([0, 2, 1])),
    (2, torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])),  # multi-label
])
def test_classifier_num_items_splits_like_one_batch(num_labels, labels):
    """Micro-batches of 2 + 1 examples with num_items=3 add up to the 3-example batch's loss."""
    model = perturb(BertForSequenceClassification.from_config(tiny_config(num_labels=num_labels)))
    ids, mask, types = batch()
    with torch.no_grad():
        full = model(ids, attention_mask=mask, token_type_ids=types, labels=labels).loss
        parts = sum(model(ids[s], attention_mask=mask[s], token_type_ids=types[s], labels=labels[s], num_items=3).loss
                    for s in (slice(0, 2), slice(2, 3)))
        half = model(ids, attention_mask=mask, token_type_ids=types, labels=labels, num_items=6).loss
    assert abs(parts.item() - full.item()) < TOL and abs(half.item() - full.item() / 2) < TOL


def test_packed_documents_do_not_attend_across():
    model = perturb(BertForMaskedLM.from_config(tiny_config()))
    a, b = torch.randint(1, V, (1, 5)), torch.randint(1, V, (1, 7))
    docs = torch.tensor([[0] * 5 + [1] * 7])
    positions = torch.tensor([list(range(5)) + list(range(7))])
    with torch.no_grad():
        packed = model(torch.cat([a, b], 1), document_ids=docs, position_ids=positions).logits
        alone = torch.cat([model(a).logits, model(b).logits], 1)
        leaky = model(torch.cat([a, b], 1), position_ids=positions).logits
    assert max_diff(packed, alone) < TOL
    assert max_diff(leaky, alone) > 1e-2  # without document_ids the documents do mix


def test_padding_does_not_change_real_tokens():
    model = perturb(BertForSequenceClassification.from_config(tiny_config(num_labels=3)))
    ids = torch.randint(1, V, (2, 8))
    types = torch.tensor([[0] * 4 + [1] * 4] * 2)
    garbage = torch.randint(1, V, (2, 5))  # padded positions hold arbitrary ids: only the mask may count
    padded = torch.cat([ids, garbage], 1)
    pmask = torch.cat([torch.ones(2, 8), torch.zeros(2, 5)], 1).long()
    ptypes = torch.cat([types, torch.ones(2, 5, dtype=torch.long)], 1)
    with torch.no_grad():
        ref = model(ids, token_type_ids=types)
        ref_h = model.bert(ids, token_type_ids=types).last_hidden_state
        got = model(padded, attention_mask=pmask, token_type_ids=ptypes)
        got_h = model.bert(padded, attention_mask=pmask, token_type_ids=ptypes).last_hidden_state
    assert max_diff(got_h[:, :8], ref_h) < TOL
    assert max_diff(got.logits, ref.logits) < TOL


def test_attention_weights_on_request(tmp_path):
    stock = perturb(StockBase(tiny_config(attn_implementation="eager")))
    ours = import_stock(stock, tmp_path)
    ids, mask, types = batch()
    with torch.no_grad():
        out = ours(ids, attention_mask=mask, token_type_ids=types, output_attentions=True)
        ref = stock(input_ids=ids, attention_mask=mask, token_type_ids=types, output_attentions=True)
        plain = ours(ids, attention_mask=mask, token_type_ids=types)
    B, L = ids.shape
    assert len(ref.attentions) == len(out.attentions) == 2 and out.attentions[0].shape == (B, 4, L, L)
    assert plain.attentions is None
    for got, want in zip(out.attentions, ref.attentions):
        assert torch.allclose(got.sum(-1), torch.ones(B, 4, L), atol=1e-5)
        assert got.masked_select(mask[:, None, None, :] == 0).abs().max() == 0  # padded keys get nothing
        assert max_diff(got.transpose(1, 2), want.transpose(1, 2), mask) < TOL  # real queries match stock
    assert max_diff(out.last_hidden_state, plain.last_hidden_state, mask) < TOL  # both paths agree


def test_mlm_checkpoint_loads_as_classifier(tmp_path):
    mlm = BertForMaskedLM.from_config(tiny_config(num_labels=3))
    mlm.save_pretrained(tmp_path / "mlm")
    cls = framework.load(tmp_path / "mlm", task="sequence-classification")
    assert type(cls) is BertForSequenceClassification
    mlm_state = mlm.state_dict()
    for key, value in cls.bert.state_dict().items():
        if not key.startswith("pooler."):
            assert torch.equal(value, mlm_state[f"bert.{key}"]), key
    w, b = cls.classifier.weight, cls.classifier.bias
    assert w.shape == (3, 32) and torch.all(b == 0) and 0.01 < w.std().item() < 0.03  # fresh HF-style init
    ids, mask, types = batch()
    with torch.no_grad():
        assert cls(ids, attention_mask=mask, token_type_ids=types).logits.shape == (3, 3)


def test_init_registry_and_presets():
    model = build("bert-debug")
    assert type(model) is BertForMaskedLM and model.block_classes == (BertLayer,)
    emb = model.bert.embeddings.word_embeddings.weight
    assert torch.all(emb[0] == 0) and abs(emb[1:].std().item() - 0.02) < 0.002  # padding row zero after tying
    assert torch.all(model.cls.predictions.bias == 0)
    ln = model.bert.encoder.layer[0].output.LayerNorm
    assert torch.all(ln.weight == 1) and torch.all(ln.bias == 0)
    assert torch.all(model.bert.encoder.layer[0].attention.self.query.bias == 0)
    cfg = config_from_preset("bert-debug")
    assert resolve_class(cfg, "base") is BertModel
    assert resolve_class(cfg, "sequence-classification") is BertForSequenceClassification
    with torch.device("meta"):
        base = BertModel(config_from_preset("bert-base"))
    assert 109e6 < base.num_parameters() < 111e6  # the paper's BERT-base: 110M
