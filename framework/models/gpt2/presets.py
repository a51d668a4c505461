"""GPT-2 sizes (small presets use ids 0/1/2 for pad/bos/eos, as our trained tokenizers do): `debug` for CPU tests, then the paper's 124M / 355M / 774M / 1.5B."""

PRESETS: dict[str, dict] = {
    "gpt2-debug": dict(n_layer=2, n_embd=64, n_head=4, n_positions=128, vocab_size=512, bos_token_id=1, eos_token_id=2, pad_token_id=0),
    "gpt2-tiny": dict(n_layer=4, n_embd=128, n_head=4, n_positions=256, vocab_size=8192, bos_token_id=1, eos_token_id=2, pad_token_id=0),
    "gpt2-124m": dict(n_layer=12, n_embd=768, n_head=12, n_positions=1024, vocab_size=50257),
    "gpt2-355m": dict(n_layer=24, n_embd=1024, n_head=16, n_positions=1024, vocab_size=50257),
    "gpt2-774m": dict(n_layer=36, n_embd=1280, n_head=20, n_positions=1024, vocab_size=50257),
    "gpt2-1.5b": dict(n_layer=48, n_embd=1600, n_head=25, n_positions=1024, vocab_size=50257),
}
