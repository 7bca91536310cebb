"""Persistent settings (QSettings in an INI file inside the user data folder)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings

from aigc_studio.core.paths import user_data_dir


def app_settings() -> QSettings:
    """The app's settings store; lives beside the user's models so tests can isolate it."""
    return QSettings(str(user_data_dir() / "settings.ini"), QSettings.Format.IniFormat)


def read_setting(settings: QSettings, key: str, default: Any, kind: type | None = None) -> Any:
    """Read a value with a type (INI files store everything as text)."""
    kind = kind or type(default)
    value = settings.value(key, default)
    if value is None:
        return default
    try:
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        return kind(value)
    except (TypeError, ValueError):
        return default
