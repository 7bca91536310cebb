"""Light and dark palettes; by default follow the system colour scheme."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")


def system_prefers_dark() -> bool:
    """True when the desktop asks for a dark colour scheme."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return bool(scheme and scheme() == Qt.ColorScheme.Dark)


def apply_theme(app: QApplication, theme: str) -> str:
    """Apply ``theme`` (system, light or dark); returns the palette actually used."""
    dark = system_prefers_dark() if theme == "system" else theme == "dark"
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if dark else light_palette())
    return "dark" if dark else "light"


def light_palette() -> QPalette:
    """A neutral light palette."""
    return _palette(window="#f3f3f3", base="#ffffff", alt="#eaeaea", text="#1d1d1f", button="#e6e6e6",
                    highlight="#2f6fdf", disabled="#9a9a9a")


def dark_palette() -> QPalette:
    """A neutral dark palette."""
    return _palette(window="#2b2b2e", base="#1e1e20", alt="#323236", text="#e8e8ea", button="#3a3a3e",
                    highlight="#4c8dff", disabled="#77777c")


def _palette(*, window, base, alt, text, button, highlight, disabled) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for r, c in (
        (role.Window, window), (role.WindowText, text), (role.Base, base), (role.AlternateBase, alt),
        (role.ToolTipBase, base), (role.ToolTipText, text), (role.Text, text), (role.Button, button),
        (role.ButtonText, text), (role.BrightText, "#ff5555"), (role.Highlight, highlight),
        (role.HighlightedText, "#ffffff"), (role.Link, highlight), (role.PlaceholderText, disabled),
    ):
        p.setColor(r, QColor(c))
    for r in (role.Text, role.WindowText, role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, r, QColor(disabled))
    return p
