"""The workspace: where each session's artefacts live, what staff should know of them, and the lock.

Layout, relative to config.yaml:
    transcripts/<id>/<id>.transcript.json                   stage 1, with the machine's captions
    transcripts/<id>/<id>.machine.vtt .machine.srt .machine.txt
    transcripts/<id>/<id>.tags.json, <id>.review.yaml        stage 2 (the review file is staff's)
    transcripts/<id>/render/<id>.pdf .docx .html .render.json   stage 3
    transcripts/_cycle/render/cycle.pdf .docx .html .render.json  stage 3, the whole cycle
    outputs/                                                 stage 4 (the site)

Synthèse writes only these files. A session's own input (its replay, or the transcript it
imports) may sit in its folder under any other name; one that sits where an output goes is
refused before anything is written (`check_inputs`), never overwritten.

Which stage is up to date, and how each runs, is the stage table's (stages.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .core.artefacts import Tags, Transcript
from .core.config import Config, Session
from .core.errors import InputError, LockError, SyntheseError
from .core.storage import remove_leftover_part_files
from .core.typography import timestamp

log = logging.getLogger(__name__)

CYCLE_FOLDER = "_cycle"  # session ids start with a letter or digit, so this can never be one
VOICES_FILE = "voices.json"  # the voice profiles (voices.py): beside config.yaml, never published
CYCLE_STEM = "cycle"
CAPTION_FORMATS = ("vtt", "srt", "txt")


@dataclass(frozen=True)
class SessionPaths:
    """Where one session's artefacts live (the cycle's synthesis has the same shape)."""

    folder: Path
    stem: str

    @property
    def transcript(self) -> Path:
        return self.folder / f"{self.stem}.transcript.json"

    def machine_captions(self, extension: str) -> Path:
        """The machine's captions of the transcript (`.machine.vtt`…): named so that no imported
        transcript has their name, as `<id>.vtt` would."""
        return self.folder / f"{self.stem}.machine.{extension}"

    @property
    def subtitles(self) -> Path:
        return self.machine_captions("vtt")

    @property
    def tags(self) -> Path:
        return self.folder / f"{self.stem}.tags.json"

    @property
    def review(self) -> Path:
        return self.folder / f"{self.stem}.review.yaml"

    @property
    def tagger_cache(self) -> Path:
        return self.folder / f".{self.stem}.tagger-cache.json"

    @property
    def render_dir(self) -> Path:
        return self.folder / "render"

    @property
    def render(self) -> Path:
        return self.render_dir / f"{self.stem}.render.json"

    @property
    def checkpoint(self) -> Path:
        return self.folder / f".{self.stem}.transcribe-checkpoint.json"

    def written(self) -> list[Path]:
        """Every file the stages write for the session, and the folder of its documents
        (the review file is created once when missing, never replaced, so it is not listed)."""
        return [self.transcript, *(self.machine_captions(e) for e in CAPTION_FORMATS), self.tags,
                self.tagger_cache, self.checkpoint, self.render_dir]


def voices_file(config: Config) -> Path:
    """The cycle's voice profiles (`voices.remember`): biometric data, kept beside config.yaml."""
    return config.root / VOICES_FILE


class Workspace:
    """The folder of a config.yaml, its sessions' artefacts and the published site."""

    def __init__(self, config: Config):
        self.config = config
        self.root = config.root

    @property
    def transcripts_dir(self) -> Path:
        return self.root / "transcripts"

    @property
    def outputs_dir(self) -> Path:
        return self.config.resolve(self.config.publish.output_dir)

    def paths(self, session: Session) -> SessionPaths:
        return SessionPaths(self.transcripts_dir / session.id, session.id)

    @property
    def cycle_paths(self) -> SessionPaths:
        return SessionPaths(self.transcripts_dir / CYCLE_FOLDER, CYCLE_STEM)

    def protected(self) -> list[Path]:
        """The project's own files and folders, which publishing may never replace."""
        paths = [self.config.path, self.transcripts_dir, voices_file(self.config)]
        for session in self.config.sessions:
            source = self.config.resolve(session.source)
            if source.exists():
                paths.append(source)
        if self.config.render.templates is not None:
            paths.append(self.config.resolve(self.config.render.templates))
        return paths

    def check_input(self, session: Session) -> None:
        """Refuse a session whose input sits where the stages write (an imported transcript
        named `<id>.machine.vtt`, say): it would be overwritten. Checked before any work."""
        source = self.config.resolve(session.source).resolve()
        for output in self.paths(session).written():
            target = output.resolve()
            if source == target or source.is_relative_to(target):
                index = self.config.sessions.index(session)
                key = "transcript" if session.transcript else "media"
                raise InputError(
                    f"{self.config.where('sessions', index, key)}: sessions[{index}].{key} is {session.source}, "
                    f"where Synthèse writes its own {output.name}: it would be overwritten. Move or rename "
                    f"that file (for example to {self.paths(session).folder.name}/{session.id}-source"
                    f"{Path(session.source).suffix}) and change the path in {self.config.path.name}.")

    def clear_partial_files(self, session: Session) -> None:
        """Remove temporary files a killed run left behind (only ever called under the lock)."""
        folder = self.paths(session).folder
        for leftover in [*remove_leftover_part_files(folder), *remove_leftover_part_files(folder / "render")]:
            log.debug("removed %s left by an interrupted run", leftover)

    # --- what staff should know ----------------------------------------------------------------

    def notes(self, session: Session) -> list[str]:
        """What staff should know about a session: speech left untranscribed, voices heard that
        differ from the speakers declared, what the tagging warns of, review decisions that no
        longer apply."""
        notes = self.transcript_notes(session)
        tags = self.paths(session).tags
        if tags.is_file():
            try:
                notes += Tags.load(tags).warnings
            except SyntheseError as exc:
                notes.append(str(exc))
        return notes

    def transcript_notes(self, session: Session) -> list[str]:
        """What the transcript leaves to check: untranscribed speech, voices against speakers."""
        path = self.paths(session).transcript
        if not path.is_file():
            return []
        try:
            transcript = Transcript.load(path)
        except SyntheseError as exc:
            return [str(exc)]
        notes = []
        voices = transcript.diarization
        if voices is not None and voices.declared and voices.heard != voices.declared:
            notes.append(f"{voices.heard} voice(s) heard, {voices.declared} speaker(s) declared in config.yaml")
        if voices is not None and voices.speakers_found and self.config.voices.remember and not voices.voices:
            notes.append("transcribed without voice prints (voices.remember was off): its voices are neither "
                         f"remembered nor recognised; `synthese run --force {session.id}` transcribes it again with them")
        why = {"no_speech_decoded": "speech heard, no words could be decoded",
               "other_language": "another language, no words could be decoded"}
        for gap in transcript.gaps:
            notes.append(f"speech not transcribed {timestamp(gap.start)}–{timestamp(gap.end)} "
                         f"({why.get(gap.reason, gap.reason.replace('_', ' '))}): listen to it on the review page")
        return notes

    # --- locking ---------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the workspace for one run. The OS releases the lock when a process dies,
        so a lock left by a killed run is taken over without anyone deleting a file."""
        import errno
        import stat

        lock_path = self.root / ".synthese.lock"
        # Opened without following a link, and only as a regular file of its own: the lock file
        # is truncated and written, which must never reach a file someone else placed there.
        fix = f"Synthèse writes only its own lock file there: remove it (`rm {lock_path}`), then run again."
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise LockError(f"{lock_path}: is a symbolic link (to {os.readlink(lock_path)}). {fix}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(fd)
            kind = "a hard link to another file" if stat.S_ISREG(info.st_mode) else "not a regular file"
            raise LockError(f"{lock_path}: is {kind}. {fix}")
        handle = os.fdopen(fd, "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise LockError(
                f"{lock_path}: another synthese run ({holder}) is working in this folder. "
                "Wait for it to finish, then run again."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

