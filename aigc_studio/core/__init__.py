"""Qt-free core: jobs, devices, model files, registry. Never imports PySide6."""
