"""Building blocks shared by the zoo's families: attention, masks, norms, positions, KV cache."""
