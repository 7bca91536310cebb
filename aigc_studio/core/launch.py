"""Starting a training command as several processes under torchrun; torch-free (dialogs use it).

:func:`launch_command` builds the ``python -m torch.distributed.run …`` line that
``aigc-studio train … --nproc-per-node N`` and the Train dialogs start.
"""

from __future__ import annotations

import os
import sys

from aigc_studio.errors import InputError

LAUNCH_OPTIONS = ("--nproc-per-node", "--nnodes", "--node-rank", "--master-addr", "--master-port")


def launched_by_torchrun(environ: dict[str, str] | None = None) -> bool:
    """True in a process that torchrun (or a cluster script setting its variables) started with others."""
    env = os.environ if environ is None else environ
    return "RANK" in env and int(env.get("WORLD_SIZE", "1")) > 1


def visible_gpus() -> int:
    """How many CUDA devices this process sees (0 without CUDA)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def visible_gpus_quick(environ: dict[str, str] | None = None, driver_dir: str = "/proc/driver/nvidia/gpus") -> int:
    """The visible NVIDIA GPUs without importing torch (for dialogs): the driver's list, cut by CUDA_VISIBLE_DEVICES."""
    if "torch" in sys.modules:
        return visible_gpus()
    env = os.environ if environ is None else environ
    try:
        installed = len(os.listdir(driver_dir))
    except OSError:
        return 0
    chosen = env.get("CUDA_VISIBLE_DEVICES")
    if chosen is None:
        return installed
    picked = [x for x in chosen.split(",") if x.strip()]
    if picked and picked[0].strip().startswith("-"):
        return 0
    return min(installed, len(picked))


def strip_launch_options(argv: list[str]) -> list[str]:
    """``argv`` without the launch options (``--nproc-per-node 2``, ``--master-port=29500`` …)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in LAUNCH_OPTIONS:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def launch_command(
    argv: list[str],
    nproc_per_node: str | int,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str | None = None,
    master_port: int | None = None,
    gpus: int | None = None,
    module: str = "aigc_studio",
) -> list[str]:
    """The command that runs ``python -m <module> <argv>`` under torchrun (``argv`` without the launch options)."""
    if str(nproc_per_node) == "auto":
        count = visible_gpus() if gpus is None else gpus
        if count < 1:
            raise InputError("--nproc-per-node auto needs a visible GPU; on the CPU give a number of processes.")
        nproc = count
    else:
        try:
            nproc = int(nproc_per_node)
        except ValueError:
            raise InputError(f"--nproc-per-node takes a number or 'auto', not {nproc_per_node!r}.") from None
    if nproc < 1 or nnodes < 1 or not 0 <= node_rank < nnodes:
        raise InputError("--nproc-per-node and --nnodes must be at least 1, and --node-rank below --nnodes.")
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    if nnodes == 1 and master_addr is None and master_port is None:
        command.append("--standalone")  # a free port on this machine
    else:
        if nnodes > 1 and not master_addr:
            raise InputError(
                "Training on several machines needs --master-addr (the address of the node-rank 0 machine)."
            )
        command += [f"--nnodes={nnodes}", f"--node-rank={node_rank}"]
        command += [f"--master-addr={master_addr or '127.0.0.1'}", f"--master-port={master_port or 29500}"]
    return [*command, "--module", module, *strip_launch_options(argv)]
