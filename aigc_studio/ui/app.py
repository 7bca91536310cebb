"""Start the GUI: QApplication, theme, main window, engine; ``--screenshot`` mode."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from aigc_studio import __version__

SCREENSHOT_TIMEOUT_S = 120


def run_gui(args: argparse.Namespace) -> int:
    """Open the main window and run the event loop; returns the exit status."""
    from aigc_studio.ui.display_check import display_problem

    problem = display_problem()
    if problem:  # before Qt, which would abort with a message that blames xcb-cursor
        print(f"aigc-studio: error: {problem}", file=sys.stderr)
        return 1
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from aigc_studio.core.paths import resources_dir
    from aigc_studio.engine.thread import Engine
    from aigc_studio.ui.crash_guard import install_crash_guard
    from aigc_studio.ui.main_window import MainWindow
    from aigc_studio.ui.palette import apply_theme
    from aigc_studio.ui.settings import app_settings, read_setting

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("AIGC Studio")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("AIGC Studio")
    app.setDesktopFileName("aigc-studio")
    icon = resources_dir() / "icons" / "aigc-studio.png"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    if not args.screenshot:
        install_crash_guard()
    settings = app_settings()
    apply_theme(app, read_setting(settings, "ui/theme", "system", str))
    # Follow the desktop when it switches between light and dark while we run.
    app.styleHints().colorSchemeChanged.connect(
        lambda _scheme: apply_theme(app, read_setting(settings, "ui/theme", "system", str))
    )
    device = args.device or read_setting(settings, "engine/device", "auto", str)
    engine = Engine(device)
    window = MainWindow(engine, settings)
    if args.tab:
        window.show_pane(args.tab)
    window.show()
    window.start_engine_soon()
    if args.screenshot:
        return _screenshot_when_idle(app, window, Path(args.screenshot))
    status = app.exec()
    engine.shutdown()
    return status


def _screenshot_when_idle(app, window, path: Path) -> int:
    """Wait for the engine to boot and every pane to settle, save the window as PNG, exit."""
    from PySide6.QtCore import QTimer

    deadline = time.monotonic() + SCREENSHOT_TIMEOUT_S
    result = {"status": 1}

    def idle() -> bool:
        return (
            window.engine.is_ready
            and not window.engine.busy
            and not any(pane.is_busy() for pane in window.panes.values())
        )

    def poll() -> None:
        if not idle() and time.monotonic() < deadline:
            QTimer.singleShot(100, poll)
            return
        if not idle():
            print("aigc-studio: window did not become idle; saving the screenshot anyway", file=sys.stderr)
        QTimer.singleShot(300, shoot)  # let the last repaint land

    def shoot() -> None:
        from aigc_studio.core.atomic import atomic_path

        ok = False
        with contextlib.suppress(OSError):
            with atomic_path(path) as tmp:
                if not window.grab().save(str(tmp), "PNG"):
                    raise OSError("not written")  # keeps whatever was at ``path`` before
            ok = True
        if not ok:
            print(f"aigc-studio: error: could not write {path}", file=sys.stderr)
        result["status"] = 0 if ok else 1
        window.settings.sync()
        for pane in window.panes.values():
            pane.shutdown()
        window.engine.shutdown()
        app.quit()

    QTimer.singleShot(200, poll)
    app.exec()
    return result["status"]
