"""BERT sizes: `debug` for CPU tests, `tiny` (4 layers x 256, ~5M params with an 8k vocabulary, the
shape of Turc et al.'s BERT-Mini) for quick runs, then the paper's base (110M) and large (340M).
Small presets use id 0 for padding, as our trained tokenizers do."""

PRESETS: dict[str, dict] = {
    "bert-debug": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, intermediate_size=256, max_position_embeddings=128, vocab_size=512, pad_token_id=0),
    "bert-tiny": dict(num_hidden_layers=4, hidden_size=256, num_attention_heads=4, intermediate_size=1024, max_position_embeddings=512, vocab_size=8192, pad_token_id=0),
    "bert-base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072, max_position_embeddings=512, vocab_size=30522, type_vocab_size=2, pad_token_id=0),
    "bert-large": dict(num_hidden_layers=24, hidden_size=1024, num_attention_heads=16, intermediate_size=4096, max_position_embeddings=512, vocab_size=30522, type_vocab_size=2, pad_token_id=0),
}
