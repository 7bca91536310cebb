"""The music pane's "Sound output" menu: built-in synth, a SoundFont, or a MIDI output port.

It owns the choice, remembers it in the settings and applies it to the
:class:`Player`; the pane only shows the menu (toolbar button and Generate menu).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu, QToolButton, QWidget

from aigc_studio.music import midi_out
from aigc_studio.music.soundfont import find_system_soundfont, tinysoundfont_installed
from aigc_studio.ui.file_dialogs import open_file
from aigc_studio.ui.music.playback import Player

SYSTEM_SOUNDFONT_FOLDER = Path("/usr/share/sounds/sf2")


class SoundOutput(QObject):
    """Builds the menu each time it opens (MIDI ports come and go) and keeps ``button`` labelled."""

    status_message = Signal(str)

    def __init__(self, player: Player, settings: QSettings, button: QToolButton, parent: QWidget) -> None:
        super().__init__(parent)
        self.player, self.settings, self.button = player, settings, button
        self.menu = QMenu("Sound output", parent)
        self.menu.aboutToShow.connect(self.fill_menu)
        button.setMenu(self.menu)
        self.menu_action = QAction("Sound output", parent)
        self.menu_action.setMenu(self.menu)
        self.choose_action = QAction("Choose SoundFont…", parent)
        self.choose_action.triggered.connect(lambda: self.choose_soundfont())
        self.actions: dict[str, QAction] = {}
        self._group: QActionGroup | None = None
        player.soundfont_loaded.connect(lambda _name: self.fill_menu())
        self._restore()
        self.fill_menu()

    def _restore(self) -> None:
        """Last session's SoundFont (or the system's), and its MIDI port when that port is there again."""
        saved = self.settings.value("music/soundfont", "", type=str)
        path = Path(saved) if saved and Path(saved).is_file() else find_system_soundfont()
        # Quietly: nobody asked for a SoundFont in this session, so its "ready" (or the missing
        # tinysoundfont package) is no news at start-up; the Sound output menu tells the state.
        if (
            path is not None
            and tinysoundfont_installed()
            and self.settings.value("music/use_soundfont", True, type=bool)
        ):
            self.player.set_soundfont(path, quiet=True)
        elif path is not None:
            self.player.soundfont_path = path
        port = self.settings.value("music/midi_port", "", type=str)
        if port and port in midi_out.midi_output_ports()[0]:
            self.player.set_midi_port(port)

    def fill_menu(self) -> None:
        """Rebuild the menu from the player's state and the ports present now."""
        menu, p = self.menu, self.player
        menu.clear()
        if self._group is not None:
            self._group.deleteLater()
        group = self._group = QActionGroup(menu)

        def choice(text: str, checked: bool, output: str, enabled: bool = True) -> QAction:
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(checked)
            action.setEnabled(enabled)
            action.triggered.connect(lambda: self.use(output))
            group.addAction(action)
            return action

        on_port = p.midi_port_name is not None
        self.actions = {"synth": choice("Built-in synth", not on_port and not p.use_soundfont, "synth")}
        if not tinysoundfont_installed():
            sf_text, sf_ok = "SoundFont (needs the tinysoundfont package)", False
        elif p.soundfont_path is None:
            sf_text, sf_ok = "SoundFont (none chosen)", False
        else:
            sf_text, sf_ok = f"SoundFont: {p.soundfont_path.name}", True
        self.actions["soundfont"] = choice(sf_text, not on_port and p.use_soundfont, "soundfont", sf_ok)
        menu.addAction(self.choose_action)
        menu.addSeparator()
        ports, why = midi_out.midi_output_ports()
        if not ports:
            none = menu.addAction(why)
            none.setEnabled(False)
            self.actions["no_ports"] = none
        for name in ports:
            self.actions[f"midi:{name}"] = choice(f"MIDI port: {name}", p.midi_port_name == name, f"midi:{name}")
        self.button.setText(self._label())

    def _label(self) -> str:
        p = self.player
        if p.midi_port_name is not None:
            return f"MIDI: {p.midi_port_name}"
        if p.use_soundfont and p.soundfont_path is not None:
            return f"SoundFont: {p.soundfont_path.stem}"
        return "Built-in synth"

    def use(self, output: str) -> None:
        """Play through 'synth', 'soundfont' or 'midi:PORT NAME'."""
        p = self.player
        if output.startswith("midi:"):
            if p.set_midi_port(output[5:]):
                self.settings.setValue("music/midi_port", output[5:])
        else:
            p.set_midi_port(None)
            self.settings.remove("music/midi_port")
            if output == "soundfont" and p.soundfont_path is not None:
                if not p.use_soundfont:
                    p.set_soundfont(p.soundfont_path)
            else:
                p.use_soundfont = False
            self.settings.setValue("music/use_soundfont", p.use_soundfont)
        self.fill_menu()

    def choose_soundfont(self, path: str | Path | None = None) -> None:
        """Ask for a .sf2 file (or take ``path``), remember it and play through it."""
        if not path:
            first = self.player.soundfont_path.parent if self.player.soundfont_path else SYSTEM_SOUNDFONT_FOLDER
            path = open_file(
                self.menu.parentWidget(),
                "soundfont",
                "Choose SoundFont",
                "SoundFont (*.sf2 *.sf3);;All files (*)",
                first_folder=first,
            )
            if path is None:
                return
        self.player.set_midi_port(None)
        self.settings.remove("music/midi_port")
        self.player.set_soundfont(path)
        self.settings.setValue("music/soundfont", str(path))
        self.settings.setValue("music/use_soundfont", True)
        self.status_message.emit(f"Loading SoundFont {Path(path).name}…")
        self.fill_menu()
