"""Qt widgets. Only this package and ``aigc_studio.engine`` import PySide6."""
