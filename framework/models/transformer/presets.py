"""Transformer sizes. All use the paper's recipe: post-LN, ReLU, sqrt(C)-scaled embeddings, one
shared source/target vocabulary tied to the output layer, and our tokenizers' ids (pad 0, eos 1;
decoding starts from pad, the Marian convention). `debug` is for CPU tests, `tiny` for quick
runs, then the paper's base and big models (Table 3)."""

_SPECIAL = dict(pad_token_id=0, eos_token_id=1, forced_eos_token_id=1, decoder_start_token_id=0, bos_token_id=None)
_PAPER = dict(activation_function="relu", scale_embedding=True, share_encoder_decoder_embeddings=True,
              tie_word_embeddings=True, attention_dropout=0.0, activation_dropout=0.0, **_SPECIAL)


def _size(layers: int, d_model: int, heads: int, ffn: int, **kw) -> dict:
    return dict(encoder_layers=layers, decoder_layers=layers, d_model=d_model, encoder_attention_heads=heads,
                decoder_attention_heads=heads, encoder_ffn_dim=ffn, decoder_ffn_dim=ffn, **_PAPER, **kw)


PRESETS: dict[str, dict] = {
    "transformer-debug": _size(2, 64, 4, 128, vocab_size=512, max_position_embeddings=128, dropout=0.1),
    "transformer-tiny": _size(3, 128, 4, 512, vocab_size=8192, max_position_embeddings=256, dropout=0.1),
    "transformer-base": _size(6, 512, 8, 2048, vocab_size=37000, max_position_embeddings=512, dropout=0.1),
    "transformer-big": _size(6, 1024, 16, 4096, vocab_size=37000, max_position_embeddings=512, dropout=0.3),
}
