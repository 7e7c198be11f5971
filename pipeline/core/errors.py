"""Named exceptions: the library raises them, the CLI prints them as one `Error: ...` line."""


class SyntheseError(Exception):
    """An error the user can fix; its message says what happened and what to do."""


class ConfigError(SyntheseError):
    """config.yaml is unreadable or invalid."""


class InputError(SyntheseError):
    """A media or transcript file cannot be used."""


class ArtefactError(SyntheseError):
    """A stage's artefact is missing, of another kind or version, or malformed."""


class ModelError(SyntheseError):
    """A model (Whisper or spaCy) cannot be loaded."""


class LockError(SyntheseError):
    """Another run holds the workspace."""


class ReviewError(SyntheseError):
    """A human review file cannot be parsed; it is left untouched."""


class DependencyError(SyntheseError):
    """A system library or font the pipeline needs is missing; the message names the package."""


class StorageError(SyntheseError):
    """A file cannot be written: disk full, read-only folder or no permission."""


def unforeseen(exc: BaseException) -> str:
    """The one line for an error nobody foresaw: the program's fault, not the user's, so it asks
    for the details and a report; one input's or session's, never the whole run's."""
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for details and report it)"
