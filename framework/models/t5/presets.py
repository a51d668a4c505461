"""T5 sizes: `debug` for CPU tests and `tiny` for smoke runs (pad 0, eos 1, unk 2, decoder start = pad, as
T5's tokenizer does), then the paper's base (ReLU FF, tied head) and v1.1 base (gated-GELU, untied head)."""

_SPECIAL = dict(pad_token_id=0, eos_token_id=1, unk_token_id=2, decoder_start_token_id=0)

PRESETS: dict[str, dict] = {
    "t5-debug": dict(num_layers=2, num_decoder_layers=2, d_model=64, num_heads=4, d_kv=16, d_ff=128, vocab_size=512, **_SPECIAL),
    "t5-tiny": dict(num_layers=4, num_decoder_layers=4, d_model=128, num_heads=4, d_kv=32, d_ff=512, vocab_size=8192, **_SPECIAL),
    "t5-base": dict(num_layers=12, num_decoder_layers=12, d_model=768, num_heads=12, d_kv=64, d_ff=3072, vocab_size=32128,
                    feed_forward_proj="relu", **_SPECIAL),
    "t5-v1_1-base": dict(num_layers=12, num_decoder_layers=12, d_model=768, num_heads=12, d_kv=64, d_ff=2048, vocab_size=32128,
                         feed_forward_proj="gated-gelu", tie_word_embeddings=False, **_SPECIAL),
}
