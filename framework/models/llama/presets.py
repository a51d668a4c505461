"""Llama sizes: `debug` for CPU tests, `tiny` for CPU demos (both use ids 0/1/2 for pad/bos/eos, as
our trained tokenizers do), then the published Llama 3.2 1B and Llama 2 7B architectures."""

PRESETS: dict[str, dict] = {
    "llama-debug": dict(num_hidden_layers=2, hidden_size=64, intermediate_size=128, num_attention_heads=4,
                        num_key_value_heads=2, max_position_embeddings=128, vocab_size=512,
                        bos_token_id=1, eos_token_id=2, pad_token_id=0),
    "llama-tiny": dict(num_hidden_layers=4, hidden_size=256, intermediate_size=704, num_attention_heads=8,
                       num_key_value_heads=4, max_position_embeddings=512, vocab_size=8192,
                       tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0),
    # meta-llama/Llama-3.2-1B: GQA 32/8, head_dim 64, tied embeddings, llama3 RoPE scaling to 128k.
    "llama-1b": dict(num_hidden_layers=16, hidden_size=2048, intermediate_size=8192, num_attention_heads=32,
                     num_key_value_heads=8, head_dim=64, max_position_embeddings=131072, vocab_size=128256,
                     rms_norm_eps=1e-5, tie_word_embeddings=True, bos_token_id=128000, eos_token_id=128001,
                     rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=32.0, low_freq_factor=1.0,
                                          high_freq_factor=4.0, original_max_position_embeddings=8192)),
    # meta-llama/Llama-2-7b-hf: full multi-head attention, untied, 4k context.
    "llama-7b": dict(num_hidden_layers=32, hidden_size=4096, intermediate_size=11008, num_attention_heads=32,
                     num_key_value_heads=32, max_position_embeddings=4096, vocab_size=32000, rms_norm_eps=1e-5,
                     tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                     rope_parameters=dict(rope_type="default", rope_theta=10000.0)),
}
