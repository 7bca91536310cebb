"""The real main window: three panes, menus, status bar, settings, About, screenshot."""

import os
import subprocess
import sys

import pytest
from PySide6.QtGui import QImage

from aigc_studio.engine.thread import Engine
from aigc_studio.ui.about import about_text
from aigc_studio.ui.main_window import MainWindow
from aigc_studio.ui.settings import app_settings


@pytest.fixture
def window(qtbot, studio_home):
    engine = Engine("cpu")
    win = MainWindow(engine, app_settings())
    qtbot.addWidget(win)
    win.show()
    engine.start()
    yield win
    engine.shutdown()


def test_window_has_three_studios_menus_and_device_in_status_bar(qtbot, window):
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Image", "Text", "Music"]
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Generate", "Train", "Help"]
    qtbot.waitUntil(lambda: window.engine.is_ready, timeout=30000)
    assert window.device_label.text().startswith("Device: CPU")
    assert "PyTorch" in about_text(window.engine) and window.engine.torch_version in about_text(window.engine)


def test_standard_menu_commands_have_shortcuts_even_where_the_platform_binds_none(window):
    shortcuts = {}
    for menu_action in window.menuBar().actions():
        for action in menu_action.menu().actions():
            shortcuts[action.text().replace("&", "").rstrip("…")] = action.shortcut().toString()
    for name, key in [("New", "Ctrl+N"), ("Open", "Ctrl+O"), ("Save", "Ctrl+S"), ("Quit", "Ctrl+Q"),
                      ("Undo", "Ctrl+Z"), ("Preferences", "Ctrl+,")]:
        assert shortcuts.get(name, "").startswith(key), (name, shortcuts.get(name))


def test_view_shortcuts_switch_panes_and_pane_actions_follow_the_tab(qtbot, window):
    window.show_pane("music")
    assert window.current_pane().key == "music"
    for key, menus in window._pane_actions.items():
        for actions in menus.values():
            assert all(a.isVisible() == (key == "music") for a in actions)


def test_first_window_takes_most_of_the_screen_and_its_size_persists_between_sessions(qtbot, window):
    area = window.screen().availableGeometry()  # fresh settings: the very first start
    smallest = window.minimumSizeHint()  # offscreen screens are 800x800: 80 % is below what the panes need
    assert window.width() == max(round(0.8 * area.width()), smallest.width())
    assert window.height() == max(round(0.8 * area.height()), smallest.height())
    assert area.contains(window.frameGeometry().center())
    # 780x560 also checks that every pane fits a small screen (offscreen screens are 800x600).
    window.resize(780, 560)
    window.show_pane("text")
    window.close()
    engine = Engine("cpu")
    again = MainWindow(engine, app_settings())
    qtbot.addWidget(again)
    assert again.current_pane().key == "text"
    assert (again.width(), again.height()) == (780, 560)


def _run_app(args, home, timeout=180):
    env = {**os.environ, "AIGC_STUDIO_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "aigc_studio", *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_screenshot_option_saves_the_real_window(studio_home, tmp_path):
    out = tmp_path / "shot.png"
    result = _run_app(["--screenshot", str(out), "--tab", "music", "--device", "cpu"], studio_home)
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert image.width() >= 640 and image.height() >= 640  # 80 % of the 800x800 offscreen screen, or more


def test_without_a_display_the_app_says_so_in_one_line_instead_of_aborting(studio_home):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["AIGC_STUDIO_HOME"] = str(studio_home)
    result = subprocess.run([sys.executable, "-m", "aigc_studio"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1  # Qt's own abort would be -6 (SIGABRT)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aigc-studio: error: no display") and "xcb" not in lines[0]


def test_torch_is_imported_on_the_engine_thread_after_the_window_is_shown(studio_home):
    # A meta-path spy records who imports torch first and whether the window was visible then.
    code = (
        "import sys, threading, time\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from aigc_studio.engine.thread import Engine\n"
        "from aigc_studio.ui.main_window import MainWindow\n"
        "from aigc_studio.ui.settings import app_settings\n"
        "seen = {}\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' and not seen:\n"
        "            seen['main'] = threading.current_thread() is threading.main_thread()\n"
        "            seen['visible'] = w.isVisible()\n"
        "        return None\n"
        "sys.meta_path.insert(0, Spy())\n"
        "app = QApplication([])\n"
        "w = MainWindow(Engine('cpu'), app_settings())\n"
        "print('before show', 'torch' in sys.modules)\n"
        "w.show(); w.start_engine_soon()  # as run_gui does\n"
        "deadline = time.time() + 90\n"
        "while not w.engine.is_ready and time.time() < deadline:\n"
        "    app.processEvents(); time.sleep(0.01)\n"
        "print('ready', w.engine.is_ready, 'main', seen.get('main'), 'visible', seen.get('visible'))\n"
        "w.close()\n"
    )
    env = {**os.environ, "AIGC_STUDIO_HOME": str(studio_home), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["before show False", "ready True main False visible True"]


def test_status_bar_cancel_button_stops_the_running_job(qtbot, window):
    import time

    from aigc_studio.core.jobs import FunctionJob

    def forever(ctx):
        while True:
            time.sleep(0.02)
            ctx.progress(None, "thinking")

    qtbot.waitUntil(lambda: window.engine.is_ready, timeout=30000)
    handle = window.engine.submit(FunctionJob("endless", forever))
    qtbot.waitUntil(lambda: window.cancel_button.isEnabled() and handle.state == "running", timeout=5000)
    assert "endless" in window.job_label.text()
    with qtbot.waitSignal(handle.cancelled, timeout=1000):
        qtbot.mouseClick(window.cancel_button, __import__("PySide6.QtCore").QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.job_label.text() == "Idle", timeout=3000)


def test_dark_and_light_themes_change_the_palette(qtbot, window):
    from PySide6.QtWidgets import QApplication

    from aigc_studio.ui.palette import apply_theme

    app = QApplication.instance()
    assert apply_theme(app, "dark") == "dark"
    dark_window = app.palette().window().color().lightness()
    assert apply_theme(app, "light") == "light"
    assert app.palette().window().color().lightness() > dark_window + 100


def test_wheeling_over_a_side_panel_scrolls_it_without_changing_settings(qtbot, window):
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    window.show_pane("text")
    window.resize(780, 560)
    window.show()
    qtbot.waitExposed(window)
    top_p = window.current_pane().panel.top_p
    before = top_p.value()

    def wheel_down():
        pos = QPointF(top_p.rect().center())
        event = QWheelEvent(pos, QPointF(top_p.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, -120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(top_p, event)

    wheel_down()
    assert top_p.value() == before  # not focused: the panel gets the wheel
    top_p.setFocus()
    qtbot.waitUntil(top_p.hasFocus, timeout=2000)
    wheel_down()
    assert top_p.value() < before  # clicked into: the wheel edits it
