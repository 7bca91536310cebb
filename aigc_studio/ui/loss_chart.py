"""Loss curves drawn with QPainter: one polyline per series, autoscaled, with a legend."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

COLOURS = ["#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00"]
MAX_POINTS = 5000


class LossChart(QWidget):
    """Append ``(step, {name: value})`` points; repaints the curves."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.series: dict[str, list[tuple[int, float]]] = {}
        self.setMinimumHeight(140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def clear(self) -> None:
        """Forget all points."""
        self.series.clear()
        self.update()

    def add(self, step: int, values: dict[str, float]) -> None:
        """Add one point per series (a resumed run re-sends its history; duplicates are dropped)."""
        for name, value in values.items():
            points = self.series.setdefault(name, [])
            if points and step <= points[-1][0]:
                continue
            points.append((int(step), float(value)))
            if len(points) > MAX_POINTS:
                del points[: len(points) - MAX_POINTS]
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(44, 10, -10, -22)
        painter.fillRect(self.rect(), self.palette().base())
        painter.setPen(self.palette().text().color())
        points = [p for s in self.series.values() for p in s]
        if not points:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Loss curves appear here while training")
            return
        x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
        y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
        if x1 == x0:
            x1 = x0 + 1
        if y1 - y0 < 1e-9:
            y0, y1 = y0 - 0.5, y1 + 0.5
        painter.drawRect(rect)
        painter.drawText(QRectF(0, rect.top() - 6, 42, 14), Qt.AlignmentFlag.AlignRight, f"{y1:.3g}")
        painter.drawText(QRectF(0, rect.bottom() - 8, 42, 14), Qt.AlignmentFlag.AlignRight, f"{y0:.3g}")
        painter.drawText(QRectF(rect.left(), rect.bottom() + 4, 80, 14), Qt.AlignmentFlag.AlignLeft, f"step {x0}")
        painter.drawText(QRectF(rect.right() - 80, rect.bottom() + 4, 80, 14), Qt.AlignmentFlag.AlignRight, f"{x1}")

        def to_screen(step: int, value: float) -> QPointF:
            return QPointF(
                rect.left() + (step - x0) / (x1 - x0) * rect.width(),
                rect.bottom() - (value - y0) / (y1 - y0) * rect.height(),
            )

        for i, (name, series) in enumerate(self.series.items()):
            colour = QColor(COLOURS[i % len(COLOURS)])
            painter.setPen(QPen(colour, 1.5))
            painter.drawPolyline(QPolygonF([to_screen(s, v) for s, v in series]))
            painter.setBrush(colour)  # the latest point as a dot, so a one-point series shows too
            painter.drawEllipse(to_screen(*series[-1]), 2.5, 2.5)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawText(
                QRectF(rect.left() + 8 + i * 90, rect.top() + 4, 88, 14),
                Qt.AlignmentFlag.AlignLeft,
                f"{name} {series[-1][1]:.3f}",
            )
