"""Paint an inpainting mask on a picture: a round brush (size), an eraser and Clear; white is what gets redrawn."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from aigc_studio.ui.image.qimage import to_qimage

VIEW_SIZE = 512  # the picture is shown at least this large, so a small one can be painted precisely


class MaskCanvas(QWidget):
    """The picture with the mask painted over it in translucent red; the mask has the picture's own size."""

    def __init__(self, image: np.ndarray, mask: np.ndarray | None = None, parent=None) -> None:
        super().__init__(parent)
        self.picture = to_qimage(image)
        h, w = image.shape[:2]
        self.mask = QImage(w, h, QImage.Format.Format_Grayscale8)
        self.mask.fill(0)
        if mask is not None:
            self.set_mask(mask)
        self.brush = max(1, w // 12)  # in picture pixels
        self.erasing = False
        self.scale = max(1.0, VIEW_SIZE / max(w, h))
        self.setFixedSize(int(w * self.scale), int(h * self.scale))
        self.setCursor(Qt.CursorShape.CrossCursor)
        self._last: QPointF | None = None

    def set_mask(self, mask: np.ndarray) -> None:
        """Replace the mask (HxW uint8, nonzero = repaint)."""
        data = np.ascontiguousarray(np.where(np.asarray(mask) > 127, 255, 0).astype(np.uint8))
        h, w = data.shape
        self.mask = QImage(data.data, w, h, w, QImage.Format.Format_Grayscale8).copy()  # copy: own the pixels
        self.update()

    def mask_array(self) -> np.ndarray:
        """The mask as HxW uint8 (255 = repaint, 0 = keep)."""
        w, h = self.mask.width(), self.mask.height()
        bpl = self.mask.bytesPerLine()
        data = np.frombuffer(self.mask.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)[:, :w]
        return data.copy()

    def clear(self) -> None:
        """Keep the whole picture (empty mask)."""
        self.mask.fill(0)
        self.update()

    def paint_at(self, a: QPointF, b: QPointF | None = None) -> None:
        """Paint (or erase) a round stroke from ``a`` to ``b`` in picture coordinates."""
        painter = QPainter(self.mask)
        colour = QColor(0, 0, 0) if self.erasing else QColor(255, 255, 255)
        painter.setPen(QPen(colour, self.brush, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        if b is not None:
            painter.drawLine(a, b)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)  # a dab: a zero-length line draws nothing
        painter.drawEllipse(b or a, self.brush / 2, self.brush / 2)
        painter.end()
        self.update()

    def _to_picture(self, pos) -> QPointF:
        return QPointF(pos.x() / self.scale, pos.y() / self.scale)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        """Start a stroke."""
        self._last = self._to_picture(event.position())
        self.paint_at(self._last)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        """Continue the stroke while the button is down."""
        if self._last is not None:
            here = self._to_picture(event.position())
            self.paint_at(self._last, here)
            self._last = here

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        """End the stroke."""
        self._last = None

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        """The picture, then the mask as a red overlay."""
        painter = QPainter(self)
        target = self.rect()
        painter.drawImage(target, self.picture)
        overlay = QImage(self.mask.size(), QImage.Format.Format_ARGB32_Premultiplied)
        overlay.fill(QColor(220, 30, 30))
        overlay.setAlphaChannel(self.mask)
        painter.setOpacity(0.55)
        painter.drawImage(target, overlay)
        painter.end()


class MaskDialog(QDialog):
    """Brush size, eraser and Clear around a :class:`MaskCanvas`; ``mask()`` after it is accepted."""

    def __init__(self, image: np.ndarray, mask: np.ndarray | None = None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Paint the part to redraw")
        self.canvas = MaskCanvas(image, mask)
        self.size = QSlider(Qt.Orientation.Horizontal)
        self.size.setRange(1, max(2, image.shape[1] // 3))
        self.size.setValue(self.canvas.brush)
        self.size.valueChanged.connect(lambda v: setattr(self.canvas, "brush", v))
        self.eraser = QCheckBox("Eraser")
        self.eraser.toggled.connect(lambda on: setattr(self.canvas, "erasing", on))
        clear = QPushButton("Clear")
        clear.clicked.connect(self.canvas.clear)
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Brush:"))
        tools.addWidget(self.size, 1)
        tools.addWidget(self.eraser)
        tools.addWidget(clear)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(self.canvas, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(QLabel("Red is redrawn from the prompt; the rest of the picture is kept."))
        layout.addWidget(buttons)

    def mask(self) -> np.ndarray:
        """The painted mask (HxW uint8, 255 = redraw)."""
        return self.canvas.mask_array()
