"""The samplers offered for diffusion models, with the names Automatic1111 writes in its PNG metadata."""

from __future__ import annotations

from typing import Any

from aigc_studio.errors import InputError

# our name: (diffusers class, extra config, A1111 "Sampler" name)
SCHEDULERS: dict[str, tuple[str, dict[str, Any], str]] = {
    "euler": ("EulerDiscreteScheduler", {}, "Euler"),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}, "Euler a"),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}, "DPM++ 2M"),
    "dpmpp_2m_karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
        "DPM++ 2M Karras",
    ),
    "ddim": ("DDIMScheduler", {}, "DDIM"),
    "lcm": ("LCMScheduler", {}, "LCM"),
}
LABELS = {
    "euler": "Euler",
    "euler_a": "Euler ancestral",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_karras": "DPM++ 2M Karras",
    "ddim": "DDIM",
    "lcm": "LCM (few-step models)",
}


def check_scheduler(name: str) -> str:
    """``name`` if it is one we offer, else an InputError listing them."""
    if name not in SCHEDULERS:
        raise InputError(f"Unknown scheduler {name!r}; choose one of: {', '.join(SCHEDULERS)}.")
    return name


def make_scheduler(name: str, model_config: dict[str, Any]) -> Any:
    """A fresh scheduler of kind ``name`` with the model's own noise schedule (betas, prediction type)."""
    import diffusers

    cls_name, extra, _ = SCHEDULERS[check_scheduler(name)]
    config = {k: v for k, v in model_config.items() if not k.startswith("_")}
    for stale in ("use_karras_sigmas", "algorithm_type", "solver_order"):
        config.pop(stale, None)
    config.update(extra)
    return getattr(diffusers, cls_name).from_config(config)


def a1111_name(name: str) -> str:
    """The Sampler value A1111 writes for our scheduler."""
    return SCHEDULERS[name][2]


def from_a1111(sampler: str, schedule: str = "") -> str | None:
    """Our scheduler for an A1111 Sampler (and newer "Schedule type") value; None when we have no match."""
    sampler = sampler.strip()
    if schedule.strip().lower() == "karras" and sampler == "DPM++ 2M":
        return "dpmpp_2m_karras"
    for ours, (_, _, theirs) in SCHEDULERS.items():
        if theirs.lower() == sampler.lower():
            return ours
    return None
