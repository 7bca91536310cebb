"""Train the image feature network used by `aigc-studio evaluate` (self-supervised rotation prediction).

Usage: python resources/recipes/evaluate/train_image_features.py IMAGE_DIR OUT.safetensors [--steps 1000] [--init W]
Each batch: images at 32 px, randomly shifted by up to 3 px and brightness-jittered, each turned by
0/90/180/270 degrees; the network learns which. No labels, no download. 10 % of the images are kept
aside to report the rotation accuracy at the end.
"""

from __future__ import annotations

import argparse
import time

import torch
from safetensors.torch import save_file

from aigc_studio.core.atomic import atomic_path
from aigc_studio.evaluate.features import INPUT_SIZE, FeatureNet, to_input
from aigc_studio.image.dataset import load_image_folder


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shift by up to 3 px (white border) and scale brightness by 0.8-1.2."""
    n = x.shape[0]
    padded = torch.nn.functional.pad(x, (3, 3, 3, 3), value=1.0)
    dx, dy = torch.randint(0, 7, (2, n), generator=gen)
    out = torch.stack([padded[i, :, dy[i] : dy[i] + INPUT_SIZE, dx[i] : dx[i] + INPUT_SIZE] for i in range(n)])
    scale = 0.8 + 0.4 * torch.rand(n, 1, 1, 1, generator=gen)
    return ((out + 1) * scale - 1).clamp(-1, 1)


def rotated(x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image turned by a random multiple of 90 degrees, and that multiple."""
    k = torch.randint(0, 4, (x.shape[0],), generator=gen)
    return torch.stack([torch.rot90(img, int(r), (1, 2)) for img, r in zip(x, k)]), k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data")
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", default=None, help="start from these weights (continue an earlier run)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    images = to_input(load_image_folder(args.data, 64, log=print).images)
    order = torch.randperm(len(images), generator=gen)
    held = images[order[: len(images) // 10]]
    train = images[order[len(images) // 10 :]]
    net = FeatureNet()
    if args.init:
        from safetensors.torch import load_file

        net.load_state_dict(load_file(args.init))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=args.steps, pct_start=0.05)
    started = time.monotonic()
    for step in range(1, args.steps + 1):
        batch = train[torch.randint(0, len(train), (args.batch,), generator=gen)]
        x, k = rotated(augment(batch, gen), gen)
        loss = torch.nn.functional.cross_entropy(net(x), k)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0:
            print(f"step {step}: loss {loss.item():.3f} ({time.monotonic() - started:.0f} s)", flush=True)
    net.eval()
    with torch.no_grad():
        x, k = rotated(held, torch.Generator().manual_seed(1))
        accuracy = float((net(x).argmax(1) == k).float().mean())
    print(f"held-out rotation accuracy {accuracy:.3f} on {len(held)} images; {time.monotonic() - started:.0f} s")
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(args.out) as tmp:
        save_file(
            state,
            str(tmp),
            metadata={
                "recipe": "rotation prediction",
                "steps": str(args.steps),
                "held_out_rotation_accuracy": f"{accuracy:.4f}",
            },
        )


if __name__ == "__main__":
    main()
