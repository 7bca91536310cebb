"""Image studio core: GAN, VAE, datasets, training, sampling, PNG recipes (no Qt)."""
