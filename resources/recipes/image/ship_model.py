"""Strip the training state from a checkpoint and write the model-only starter file.

Usage: python resources/recipes/image/ship_model.py CHECKPOINT OUT.safetensors [--note "honest quality note"]
"""

from __future__ import annotations

import argparse

from aigc_studio.core.modelfile import save_model
from aigc_studio.core.statefile import STATE_KEY, load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("--kind", choices=("image-gan", "image-vae"), required=True)
    parser.add_argument("--note", default="")
    parser.add_argument(
        "--data", default=None, help="VAE: image folder to fit the code Gaussian (if the file lacks it)"
    )
    args = parser.parse_args()
    card, tensors, state = load_checkpoint(args.checkpoint, args.kind)
    if args.kind == "image-vae" and "latent_mean" not in tensors and args.data:
        import torch

        from aigc_studio.core.modelfile import load_into
        from aigc_studio.image.dataset import load_image_folder
        from aigc_studio.image.model import config_from_card, fit_code_gaussian
        from aigc_studio.image.vae import ConvVAE, VAEConfig

        config = config_from_card(VAEConfig, card, args.checkpoint)
        vae = ConvVAE(config)
        load_into(vae, tensors, args.checkpoint, prefix="vae.")
        data = load_image_folder(args.data, config.resolution)
        images = torch.from_numpy(data.images).permute(0, 3, 1, 2).contiguous()
        tensors["latent_mean"], tensors["latent_chol"] = fit_code_gaussian(vae, images)
    card.extra = {k: v for k, v in card.extra.items() if k != STATE_KEY}
    card.training = dict(card.training, trained_by="aigc-studio train " + args.kind, note=args.note)
    card.content_hash = ""
    card.created = ""
    saved = save_model(args.out, tensors, card)
    print(f"{args.out}: {sum(t.numel() for t in tensors.values()) / 1e6:.2f} M values, hash {saved.short_hash}")


if __name__ == "__main__":
    main()
