"""The technician's dialogs: pick a folder, pick a portrait, add an officer."""

from __future__ import annotations

from collections.abc import Callable

from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.popup import Popup

from kiosk.widgets import load_widget_kv


class PathDialog(Popup):
    """Browse the tablet's files; ``picked(path)`` with the chosen folder or file."""

    start = StringProperty("/")
    """The folder it opens in."""

    folders_only = BooleanProperty(False)
    """Pick a folder (the export's destination) rather than a file."""

    filters = ListProperty([])
    """Patterns of the files shown, e.g. ``["*.png", "*.jpg"]``."""

    picked = ObjectProperty(None)
    """Called with the chosen path."""

    def pick(self, chooser) -> None:
        chosen = chooser.selection[0] if chooser.selection else (chooser.path if self.folders_only else None)
        if chosen is None:
            return
        self.dismiss()
        self.picked(chosen)


class AddOfficerDialog(Popup):
    """Name and title of a new officer; ``saved(name, title)``."""

    saved = ObjectProperty(None)
    """Called with the name and title typed."""

    message = StringProperty("")
    """Why the officer could not be added."""

    def save(self) -> None:
        name, title = self.ids.name.text.strip(), self.ids.title_input.text.strip()
        error = self.saved(name, title)
        if error:
            self.message = error
        else:
            self.dismiss()


def open_path_dialog(
    title: str, start: str, picked: Callable[[str], None], *, folders_only: bool, filters=()
) -> PathDialog:
    """Open a :class:`PathDialog` and return it."""
    dialog = PathDialog(title=title, start=start, picked=picked, folders_only=folders_only, filters=list(filters))
    dialog.open()
    return dialog


load_widget_kv("dialogs.kv")
