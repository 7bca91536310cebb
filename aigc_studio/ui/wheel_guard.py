"""Scrolling a side panel must never change a setting by accident.

Qt spin boxes and combo boxes take the mouse wheel whenever the pointer is over
them, so wheeling down a panel of sampling controls silently edits them. This
application-wide filter lets them react to the wheel only once clicked or
tabbed into; otherwise the wheel goes on to the panel, which scrolls.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox

_GUARDED = (QAbstractSpinBox, QComboBox)


class WheelGuard(QObject):
    """Install once with ``QApplication.instance().installEventFilter(WheelGuard(app))``."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if not isinstance(obj, _GUARDED):
            return False
        if event.type() == QEvent.Type.Polish and obj.focusPolicy() == Qt.FocusPolicy.WheelFocus:
            obj.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel alone must not focus it
        elif event.type() == QEvent.Type.Wheel and not obj.hasFocus():
            parent = obj.parentWidget()
            if parent is not None:
                QCoreApplication.sendEvent(parent, event)
            return True
        return False


def install_wheel_guard() -> None:
    """Guard every spin box and combo box of the running application (idempotent)."""
    app = QCoreApplication.instance()
    if app is None or app.property("aigc_wheel_guard"):
        return
    guard = WheelGuard(app)
    app.installEventFilter(guard)
    app.setProperty("aigc_wheel_guard", True)
