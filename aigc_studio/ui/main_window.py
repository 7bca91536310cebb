"""The main window: three studio panes, menus, status bar with job progress, job panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
)

from aigc_studio.core.paths import user_data_dir, user_models_dir
from aigc_studio.engine.thread import Engine, JobHandle
from aigc_studio.errors import StudioError
from aigc_studio.ui.about import show_about
from aigc_studio.ui.file_dialogs import open_file
from aigc_studio.ui.jobs_panel import JobsPanel
from aigc_studio.ui.palette import apply_theme
from aigc_studio.ui.pane import StudioPane
from aigc_studio.ui.preferences import PreferencesDialog
from aigc_studio.ui.settings import read_setting
from aigc_studio.ui.wheel_guard import install_wheel_guard

PANE_MENUS = ("file", "edit", "view", "generate", "train")
# Files dropped on the window go to the pane that opens them.
DROP_TARGETS = {
    ".png": "image", ".jpg": "image", ".jpeg": "image", ".webp": "image", ".bmp": "image",
    ".txt": "text", ".md": "text",
    ".mid": "music", ".midi": "music",
}
_FALLBACK_KEYS = {  # platforms that bind no key to these standard actions get the common ones
    QKeySequence.StandardKey.Quit: ("Ctrl+Q",),
    QKeySequence.StandardKey.Preferences: ("Ctrl+,",),
}


class MainWindow(QMainWindow):
    """AIGC Studio's window. Owns the engine; panes submit jobs to it."""

    def __init__(self, engine: Engine, settings: QSettings) -> None:
        super().__init__()
        install_wheel_guard()  # before any spin box is shown
        self.engine = engine
        self.settings = settings
        self.setWindowTitle("AIGC Studio")
        self.setAcceptDrops(True)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)
        self.panes: dict[str, StudioPane] = {}
        self._pane_actions: dict[str, dict[str, list[QAction]]] = {}
        self._build_panes()
        self._build_jobs_dock()
        self._build_status_bar()
        self._build_menus()
        self.tabs.currentChanged.connect(self._on_tab_changed)
        engine.ready.connect(self._on_engine_ready)
        engine.device_failed.connect(lambda msg: self.show_error("Device", msg))
        engine.job_added.connect(self._on_job_added)
        engine.job_changed.connect(self._on_job_changed)
        self._restore_state()
        self._on_tab_changed(self.tabs.currentIndex())

    # --- construction ---
    def _build_panes(self) -> None:
        from aigc_studio.ui.image.pane import ImagePane
        from aigc_studio.ui.music.pane import MusicPane
        from aigc_studio.ui.text.pane import TextPane

        for pane_class in (ImagePane, TextPane, MusicPane):
            pane = pane_class(self.engine, self.settings)
            self.panes[pane.key] = pane
            self.tabs.addTab(pane, pane.title)
            pane.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
            pane.dirty_changed.connect(lambda _dirty: self._update_title())

    def _build_jobs_dock(self) -> None:
        self.jobs_panel = JobsPanel(self.engine)
        self.jobs_dock = QDockWidget("Jobs", self)
        self.jobs_dock.setObjectName("jobs-dock")
        self.jobs_dock.setWidget(self.jobs_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.jobs_dock.hide()
        self._jobs_dock_sized = False
        self.jobs_dock.visibilityChanged.connect(self._size_jobs_dock_once)

    def _size_jobs_dock_once(self, visible: bool) -> None:
        # The first time it opens the dock would take half the window; a strip is enough.
        # Later the user's own size (restored with the window state) wins.
        if visible and not self._jobs_dock_sized:
            self._jobs_dock_sized = True
            if self.jobs_dock.height() > self.height() // 3:
                self.resizeDocks([self.jobs_dock], [max(180, self.height() // 4)], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel("Device: starting…")
        self.job_label = QLabel("Idle")
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the running job")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_current_job)
        bar.addPermanentWidget(self.job_label)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.cancel_button)
        bar.addPermanentWidget(self.device_label)

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if isinstance(shortcut, QKeySequence.StandardKey):
            # Some platforms bind nothing to Quit/Preferences; fall back to the common keys.
            keys = QKeySequence.keyBindings(shortcut) or [QKeySequence(k) for k in _FALLBACK_KEYS.get(shortcut, ())]
            action.setShortcuts(keys)
        elif shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_menus(self) -> None:
        mb = self.menuBar()
        self.menus: dict[str, QMenu] = {}
        SK = QKeySequence.StandardKey
        file_menu = self.menus["file"] = mb.addMenu("&File")
        self.new_action = self._action("&New", lambda: self.current_pane().new_document(), SK.New)
        self.open_action = self._action("&Open…", self.open_file, SK.Open)
        self.save_action = self._action("&Save", lambda: self._guarded(self.current_pane().save), SK.Save)
        self.save_as_action = self._action("Save &As…", lambda: self._guarded(self.current_pane().save_as), SK.SaveAs)
        self.export_action = self._action("&Export…", lambda: self._guarded(self.current_pane().export), "Ctrl+E")
        for action in (self.new_action, self.open_action, self.save_action, self.save_as_action, self.export_action):
            file_menu.addAction(action)
        self._pane_section(file_menu, "file")
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, SK.Quit))

        edit_menu = self.menus["edit"] = mb.addMenu("&Edit")
        self.undo_action = self._action("&Undo", lambda: self.current_pane().undo(), SK.Undo)
        self.redo_action = self._action("&Redo", lambda: self.current_pane().redo(), SK.Redo)
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        self._pane_section(edit_menu, "edit")
        edit_menu.addSeparator()
        edit_menu.addAction(self._action("&Preferences…", self.edit_preferences, SK.Preferences))

        view_menu = self.menus["view"] = mb.addMenu("&View")
        for index, pane in enumerate(self.panes.values()):
            view_menu.addAction(
                self._action(f"&{pane.title} studio", lambda _=False, i=index: self.tabs.setCurrentIndex(i), f"Ctrl+{index + 1}")
            )
        view_menu.addSeparator()
        jobs_toggle = self.jobs_dock.toggleViewAction()
        jobs_toggle.setText("&Jobs panel")
        jobs_toggle.setShortcut(QKeySequence("Ctrl+J"))
        view_menu.addAction(jobs_toggle)
        self._pane_section(view_menu, "view")

        generate_menu = self.menus["generate"] = mb.addMenu("&Generate")
        self._pane_section(generate_menu, "generate")
        generate_menu.addSeparator()
        self.cancel_action = self._action("&Cancel running job", self.cancel_current_job, "Ctrl+Shift+X")
        generate_menu.addAction(self.cancel_action)

        train_menu = self.menus["train"] = mb.addMenu("&Train")
        self._pane_section(train_menu, "train")
        self.evaluate_action = self._action("&Evaluate model…", self.evaluate_model, tip="How good, how new, how fast")
        train_menu.addAction(self.evaluate_action)
        train_menu.addSeparator()
        train_menu.addAction(self._action("Open &models folder", lambda: self._open_folder(user_models_dir())))

        help_menu = self.menus["help"] = mb.addMenu("&Help")
        help_menu.addAction(self._action("&About AIGC Studio", lambda: show_about(self, self.engine)))
        help_menu.addAction(self._action("Open &data folder", lambda: self._open_folder(user_data_dir())))

    def evaluate_model(self) -> None:
        """Train → Evaluate model…: the current studio's model against reference data (non-modal)."""
        from aigc_studio.ui.evaluate_dialog import EvaluateDialog

        pane = self.current_pane()
        picker = getattr(pane, "model_picker", None) or getattr(getattr(pane, "panel", None), "picker", None)
        current = picker.current_path() if picker is not None else None
        self.evaluate_dialog = EvaluateDialog(self.engine, pane.model_kinds, current, self)
        self.evaluate_dialog.show()

    def _pane_section(self, menu: QMenu, name: str) -> None:
        """Add every pane's actions for ``menu``; only the current pane's stay visible."""
        first = True
        for key, pane in self.panes.items():
            actions = pane.menu_actions(name)
            self._pane_actions.setdefault(key, {})[name] = actions
            if actions and first:
                menu.addSeparator()
                first = False
            for action in actions:
                menu.addAction(action)

    # --- panes ---
    def current_pane(self) -> StudioPane:
        """The pane in the current tab."""
        return self.tabs.currentWidget()

    def show_pane(self, key: str) -> StudioPane:
        """Switch to the pane with ``key`` (image, text or music)."""
        pane = self.panes[key]
        self.tabs.setCurrentWidget(pane)
        return pane

    def _on_tab_changed(self, _index: int) -> None:
        current = self.current_pane()
        for key, menus in self._pane_actions.items():
            for actions in menus.values():
                for action in actions:
                    action.setVisible(self.panes[key] is current)
        has_open = bool(current.open_filter)
        self.open_action.setEnabled(has_open)
        self._update_title()

    def _update_title(self) -> None:
        pane = self.current_pane()
        dirty = "*" if pane is not None and pane.is_dirty() else ""
        self.setWindowTitle(f"AIGC Studio — {pane.title}{dirty}" if pane else "AIGC Studio")

    # --- file commands ---
    def open_file(self) -> None:
        """File > Open for the current pane."""
        pane = self.current_pane()
        path = open_file(self, pane.key, f"Open — {pane.title}", pane.open_filter)
        if path is not None:
            self.open_path(path, pane)

    def open_path(self, path: Path, pane: StudioPane | None = None) -> None:
        """Open ``path`` in ``pane`` (or the pane that handles its extension)."""
        if pane is None:
            key = DROP_TARGETS.get(path.suffix.lower())
            if key is None:
                self.show_error("Cannot open", f"{path.name}: AIGC Studio opens images, .txt/.md text and MIDI files.")
                return
            pane = self.show_pane(key)
        self._guarded(lambda: pane.open_path(path))

    def _guarded(self, command) -> None:
        try:
            command()
        except StudioError as exc:
            self.show_error("AIGC Studio", str(exc))

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        urls = event.mimeData().urls()
        if urls and all(Path(u.toLocalFile()).suffix.lower() in DROP_TARGETS for u in urls):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        for url in event.mimeData().urls():
            self.open_path(Path(url.toLocalFile()))

    def show_error(self, title: str, message: str) -> None:
        """Tell the user something went wrong (dialog + status bar)."""
        self.statusBar().showMessage(message, 10000)
        QMessageBox.warning(self, title, message)

    def _open_folder(self, folder: Path) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # --- engine reports ---
    def _on_engine_ready(self, description: str) -> None:
        self.device_label.setText(f"Device: {description}")

    def _on_job_added(self, handle: JobHandle) -> None:
        handle.failed.connect(lambda message, h=handle: self.statusBar().showMessage(f"{h.title} failed: {message}", 10000))
        handle.cancelled.connect(lambda h=handle: self.statusBar().showMessage(f"{h.title} cancelled", 5000))
        self._on_job_changed(handle)

    def _on_job_changed(self, _handle: JobHandle) -> None:
        running = self.engine.running_handle()
        queued = sum(1 for h in self.engine.handles() if h.state == "queued")
        if running is None and not queued:
            self.job_label.setText("Idle")
            self.progress_bar.hide()
            self.cancel_button.setEnabled(False)
            return
        self.cancel_button.setEnabled(True)
        self.progress_bar.show()
        if running is None:
            self.job_label.setText(f"{queued} job(s) queued")
            return
        report = getattr(running, "last_progress", None)
        message = report.message if report else ""
        more = f" (+{queued} queued)" if queued else ""
        self.job_label.setText(f"{running.title}{more}: {message}"[:90])
        if report is None or report.fraction is None:
            self.progress_bar.setRange(0, 0)
        else:
            self.progress_bar.setRange(0, 1000)
            self.progress_bar.setValue(int(report.fraction * 1000))

    def cancel_current_job(self) -> None:
        """Cancel the running job (Cancel button / Generate > Cancel)."""
        running = self.engine.running_handle()
        if running is not None:
            running.cancel()
        else:
            self.engine.cancel()

    # --- settings ---
    def edit_preferences(self) -> None:
        """Edit > Preferences."""
        device = read_setting(self.settings, "engine/device", "auto", str)
        theme = read_setting(self.settings, "ui/theme", "system", str)
        dialog = PreferencesDialog(device, theme, self)
        if dialog.exec():
            self.settings.setValue("engine/device", dialog.device)
            self.settings.setValue("ui/theme", dialog.theme)
            apply_theme(QApplication.instance(), dialog.theme)
            if dialog.device != device:
                self.engine.set_device(dialog.device)

    def _restore_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        self.tabs.setCurrentIndex(read_setting(self.settings, "window/tab", 0, int))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        for pane in self.panes.values():
            if pane.is_dirty():
                self.tabs.setCurrentWidget(pane)
                answer = QMessageBox.question(
                    self,
                    "Unsaved work",
                    f"The {pane.title} studio has unsaved work. Save it before quitting?",
                    QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                )
                if answer == QMessageBox.StandardButton.Cancel:
                    event.ignore()
                    return
                if answer == QMessageBox.StandardButton.Save and not pane.save():
                    event.ignore()
                    return
                if answer == QMessageBox.StandardButton.Discard:
                    pane.discard_unsaved()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        for pane in self.panes.values():
            pane.shutdown()
        self.settings.sync()
        self.engine.shutdown()
        event.accept()

    def start_engine_soon(self) -> None:
        """Start the engine once the window has been painted (torch loads there)."""
        QTimer.singleShot(0, self.engine.start)
