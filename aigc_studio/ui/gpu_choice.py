"""The "GPUs" choice of the Train dialogs: shown only when more than one GPU is visible."""

from __future__ import annotations

from PySide6.QtWidgets import QSpinBox

from aigc_studio.core import launch


def gpu_spin_box() -> QSpinBox | None:
    """A spin box from 1 to the number of visible GPUs (all of them chosen), or None with fewer than two."""
    count = launch.visible_gpus_quick()
    if count < 2:
        return None
    box = QSpinBox()
    box.setRange(1, count)
    box.setValue(count)
    box.setToolTip(
        "Train with one process per GPU (torchrun). The batch is split among them; "
        "the result matches one GPU with the same batch."
    )
    return box


def chosen_gpus(box: QSpinBox | None) -> int:
    """How many GPUs the user chose (1 when the choice is not shown)."""
    return box.value() if box is not None else 1
