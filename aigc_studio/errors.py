"""Errors a user can cause, each with a message written for that user.

The GUI shows ``str(error)`` in a dialog or the status bar; the CLI prints it on
one line and exits non-zero. Anything that is *not* a ``StudioError`` is a bug.
"""


class StudioError(Exception):
    """Base class for every error whose message is meant for the user; ``path``: the file it concerns, if any."""

    path: str | None = None

    def __init__(self, *args: object, path: object = None) -> None:
        super().__init__(*args)
        if path is not None:
            self.path = str(path)


class ModelFileError(StudioError):
    """A model file is missing, corrupt, of the wrong kind, version or shape."""


class InputError(StudioError):
    """User data (image, text, MIDI, folder, argument) cannot be used as given."""


class Cancelled(StudioError):
    """The user cancelled the running job."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)
