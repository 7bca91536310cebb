"""Say in one line why the window cannot open, before Qt aborts with a misleading message.

Without a display, or with one of the X11 libraries that Qt's xcb plugin needs
missing, Qt prints several lines that always blame ``xcb-cursor`` and then
aborts. This module finds the real cause first; it imports no Qt (it only
loads the xcb plugin's shared library to see which dependency is missing).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import sys
from pathlib import Path

# The README's system-library line (Debian/Ubuntu): everything Qt's xcb plugin and Qt Gui load.
APT_LINE = (
    "sudo apt-get install libegl1 libgl1 libfontconfig1 libglib2.0-0 libdbus-1-3 libxkbcommon-x11-0 libx11-xcb1 "
    "libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 "
    "libxcb-shape0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1"
)


def display_problem(environ: dict[str, str] | None = None, platform: str = sys.platform) -> str | None:
    """Why the GUI cannot start here (one line for the user), or None when it can."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux"):
        return None  # Windows and macOS always have their own platform plugin
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith("xcb"):
        return None  # offscreen, wayland, vnc…: the user chose; Qt reports its own problems
    if not qpa and env.get("WAYLAND_DISPLAY"):
        return None  # Qt picks Wayland (or falls back to xcb through XWayland)
    if not env.get("DISPLAY"):
        return (
            "no display to open the window on (DISPLAY is not set). Start it from a desktop session "
            "(or over ssh -X); the command-line tools work without one: aigc-studio --help"
        )
    missing = missing_xcb_library()
    if missing:
        return f"Qt's X11 (xcb) plugin needs {missing}, which is missing or unreadable. On Debian or Ubuntu: {APT_LINE}"
    if not x_server_answers(env["DISPLAY"]):
        return (
            f"cannot connect to the X display {env['DISPLAY']!r} (is the X server running, and may this user use it?)"
        )
    return None


def x_server_answers(display: str) -> bool:
    """True when an X server accepts a connection on ``display`` (True as well if libxcb cannot be asked)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)  # never NULL: an error object at worst
    try:
        return connection is not None and xcb.xcb_connection_has_error(connection) == 0
    finally:
        if connection is not None:
            xcb.xcb_disconnect(connection)


def missing_xcb_library(plugin: Path | None = None) -> str | None:
    """The first system library that Qt's xcb plugin fails to load with (None when it loads)."""
    plugin = plugin or _xcb_plugin()
    if plugin is None or not plugin.is_file():
        return None  # not a PySide6 wheel layout we know: let Qt speak for itself
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        found = re.search(r"(lib[\w.+-]+\.so[\w.]*)", str(exc).replace(str(plugin), ""))
        return found.group(1) if found else str(exc)
    return None


def _xcb_plugin() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
