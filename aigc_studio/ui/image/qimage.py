"""numpy uint8 pictures to QImage/QPixmap (the GUI side of job results)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def to_qimage(image: np.ndarray) -> QImage:
    """(H, W, 3) uint8 -> an owned QImage (RGB888)."""
    array = np.ascontiguousarray(image, dtype=np.uint8)
    h, w = array.shape[:2]
    return QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(image: np.ndarray, size: int | None = None, smooth: bool = False) -> QPixmap:
    """A pixmap, optionally scaled to fit ``size`` px (nearest-neighbour keeps pixels crisp)."""
    pixmap = QPixmap.fromImage(to_qimage(image))
    if size:
        mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
        pixmap = pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)
    return pixmap
