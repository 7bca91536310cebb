"""Writer studio core: own GPT, tokenizers, sentence VAE, HF loading, sampling (no Qt)."""
