"""The zoomable, pannable picture grid: click to select, Ctrl+click for a second pick, drop files to encode."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QStyle

from aigc_studio.ui.image.qimage import to_pixmap

TILE = 128  # on-screen size of one picture at zoom 1
GAP = 12


class Tile(QGraphicsPixmapItem):
    """One picture on the canvas; draws a highlight and its A/B label when selected."""

    def __init__(self, index: int, item: dict[str, Any]) -> None:
        super().__init__(to_pixmap(item["image"], TILE))
        self.index = index
        self.item = item
        self.badge = ""
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setTransformationMode(Qt.TransformationMode.FastTransformation)
        recipe = item.get("recipe", {})
        tip = f"seed {recipe.get('seed')}" if recipe.get("seed") is not None else recipe.get("op", "")
        self.setToolTip(f"#{index + 1} · {tip}")

    def paint(self, painter: QPainter, option, widget=None) -> None:
        option.state &= ~QStyle.StateFlag.State_Selected  # we draw our own, clearer highlight
        super().paint(painter, option, widget)
        if self.isSelected():
            painter.setPen(QPen(QColor("#3d8bfd"), 4))
            painter.drawRect(self.boundingRect().adjusted(-2, -2, 2, 2))
            if self.badge:
                painter.fillRect(QRectF(0, 0, 22, 20), QBrush(QColor("#3d8bfd")))
                painter.setPen(QColor("white"))
                painter.drawText(QRectF(0, 0, 22, 20), Qt.AlignmentFlag.AlignCenter, self.badge)


class CanvasView(QGraphicsView):
    """Shows a list of ``{"image", "recipe"}`` items as a grid (or one strip); emits the selection in click order."""

    selection_changed = Signal(list)  # indices, first-picked first
    files_dropped = Signal(list)  # local file paths

    def __init__(self, parent=None) -> None:
        self._scene = QGraphicsScene()
        super().__init__(self._scene, parent)
        self._scene.setParent(self)
        self.items_data: list[dict[str, Any]] = []
        self.tiles: list[Tile] = []
        self.order: list[int] = []
        self.strip = False
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setBackgroundBrush(QColor("#2b2b2b"))
        self.setAcceptDrops(True)
        self._scene.selectionChanged.connect(self._on_selection)

    # --- content ---
    def set_items(self, items: list[dict[str, Any]], strip: bool = False, selected: list[int] | None = None) -> None:
        """Replace the canvas content (selection is restored from ``selected``)."""
        self._scene.blockSignals(True)
        self._scene.clear()
        self.items_data, self.tiles, self.order, self.strip = list(items), [], [], strip
        columns = len(items) if strip else max(1, math.ceil(math.sqrt(len(items))))
        for i, item in enumerate(items):
            tile = Tile(i, item)
            row, col = divmod(i, columns)
            tile.setPos(QPointF(col * (TILE + GAP), row * (TILE + GAP)))
            self._scene.addItem(tile)
            self.tiles.append(tile)
        rows = max(1, math.ceil(len(items) / columns)) if items else 1
        self._scene.setSceneRect(QRectF(-GAP, -GAP, columns * (TILE + GAP) + GAP, rows * (TILE + GAP) + GAP))
        for i in selected or []:
            if 0 <= i < len(self.tiles):
                self.tiles[i].setSelected(True)
                self.order.append(i)
        self._scene.blockSignals(False)
        self._relabel()
        self.fit()
        self.selection_changed.emit(list(self.order))

    def select(self, indices: list[int]) -> None:
        """Select tiles by index, in this order (tests and keyboard)."""
        self._scene.blockSignals(True)
        self._scene.clearSelection()
        self.order = []
        for i in indices:
            self.tiles[i].setSelected(True)
            self.order.append(i)
        self._scene.blockSignals(False)
        self._relabel()
        self.selection_changed.emit(list(self.order))

    def selected_items(self) -> list[dict[str, Any]]:
        """Selected items in pick order."""
        return [self.items_data[i] for i in self.order]

    def tile_center(self, index: int):
        """Viewport position of a tile's centre (for clicks in tests)."""
        return self.mapFromScene(self.tiles[index].sceneBoundingRect().center())

    def _on_selection(self) -> None:
        now = {t.index for t in self.tiles if t.isSelected()}
        self.order = [i for i in self.order if i in now] + sorted(now - set(self.order))
        self._relabel()
        self.selection_changed.emit(list(self.order))

    def _relabel(self) -> None:
        for tile in self.tiles:
            tile.badge = ""
        if len(self.order) >= 2:
            for label, i in zip("AB", self.order):
                self.tiles[i].badge = label
        self._scene.update()

    # --- zoom and pan ---
    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt API
        """Wheel zooms around the mouse; panning is drag (or the scroll bars)."""
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.zoom(factor)

    def zoom(self, factor: float) -> None:
        """Zoom by ``factor`` within 0.1x .. 16x."""
        current = self.transform().m11()
        if 0.1 <= current * factor <= 16:
            self.scale(factor, factor)

    def fit(self) -> None:
        """Zoom so that the whole grid is visible (never above 1x for small grids... up to 2x)."""
        if not self.tiles:
            self.resetTransform()
            return
        self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > 2:
            self.resetTransform()
            self.scale(2, 2)

    # --- drag and drop of image files ---
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        else:
            super().dropEvent(event)
