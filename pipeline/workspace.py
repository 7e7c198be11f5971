"""The workspace: where each session's artefacts live, which stages are up to date, and `run`.

Layout, relative to config.yaml:
    transcripts/<session-id>/<id>.transcript.json (+ .vtt .srt .txt)   stage 1
    transcripts/<session-id>/<id>.tags.json, <id>.review.yaml          stage 2
    transcripts/<session-id>/render/<id>.pdf .docx .html .render.json  stage 3
    outputs/                                                           stage 4 (the site)
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.artefacts import hash_of, recorded_hash
from pipeline.config import Config, Session, Speaker
from pipeline.errors import LockError, SyntheseError

log = logging.getLogger(__name__)

STAGES = ("transcribe", "tag", "render", "publish")
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class SessionPaths:
    folder: Path
    stem: str

    @property
    def transcript(self) -> Path:
        return self.folder / f"{self.stem}.transcript.json"

    @property
    def tags(self) -> Path:
        return self.folder / f"{self.stem}.tags.json"

    @property
    def review(self) -> Path:
        return self.folder / f"{self.stem}.review.yaml"

    @property
    def render_dir(self) -> Path:
        return self.folder / "render"

    @property
    def render(self) -> Path:
        return self.render_dir / f"{self.stem}.render.json"

    @property
    def checkpoint(self) -> Path:
        return self.folder / f".{self.stem}.transcribe-checkpoint.json"


def templates_hash(folder: Path = TEMPLATES_DIR, *, exclude: str | None = "site") -> str:
    """Hash of the template files (names and contents). The documents do not depend on the
    site's own templates, so editing those re-publishes without re-rendering every session."""
    files = sorted(p for p in folder.rglob("*")
                   if p.is_file() and not (exclude and p.relative_to(folder).parts[0] == exclude))
    return hash_of(*(str(p.relative_to(folder)) for p in files), *files)


# --- what each stage reads, hashed: a change anywhere makes the stage stale -----------------
# One function per stage, used by `synthese run` and by the stage's own command alike.


def transcribe_inputs_hash(source: Path, config: Config, speakers: Sequence[Speaker] = ()) -> str:
    from pipeline.transcribe import is_transcript_file

    if is_transcript_file(source):
        return hash_of("import", source, [s.model_dump() for s in speakers])
    # The vocabulary hints (built from the codebook) are left out on purpose: editing a keyword
    # must not re-transcribe hours of audio. `run --force` re-transcribes with new hints.
    return hash_of("transcribe", source, config.transcribe.model_dump(mode="json"))


def tag_inputs_hash(transcript: Path, review: Path, config: Config) -> str:
    return hash_of("tag", transcript, config.tag.model_dump(mode="json"),
                   [t.model_dump(mode="json") for t in config.themes], review)


def render_inputs_hash(tags: Path, session: Session, config: Config) -> str:
    return hash_of("render", tags, session.model_dump(mode="json"), config.cycle.model_dump(mode="json"),
                   [t.model_dump(mode="json") for t in config.themes], config.render.model_dump(mode="json"),
                   templates_hash())


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

    def transcribe_hash(self, session: Session) -> str:
        return transcribe_inputs_hash(self.config.source_of(session), self.config, session.speakers)

    def tag_hash(self, session: Session) -> str:
        paths = self.paths(session)
        return tag_inputs_hash(paths.transcript, paths.review, self.config)

    def render_hash(self, session: Session) -> str:
        return render_inputs_hash(self.paths(session).tags, session, self.config)

    def publish_hash(self, sessions: list[Session]) -> str:
        return hash_of(
            "publish",
            *(self.paths(s).render for s in sessions),  # each render artefact hashed by content
            self.config.cycle.model_dump(mode="json"),
            [t.model_dump(mode="json") for t in self.config.themes],
            templates_hash(exclude=None),
        )

    def clear_partial_files(self, session: Session) -> None:
        """Remove temporary files a killed run left behind (only ever called under the lock)."""
        folder = self.paths(session).folder
        for leftover in [*folder.glob(".*.part"), *folder.glob("render/.*.part")]:
            log.debug("removing %s left by an interrupted run", leftover)
            leftover.unlink(missing_ok=True)

    # --- status ----------------------------------------------------------------------------

    def stage_state(self, session: Session, stage: str) -> str:
        """'done', 'stale' (inputs changed since) or 'missing'."""
        paths = self.paths(session)
        artefact = {"transcribe": paths.transcript, "tag": paths.tags, "render": paths.render}[stage]
        recorded = recorded_hash(artefact)
        if recorded is None:
            return "missing"
        try:
            current = getattr(self, f"{stage}_hash")(session)
        except SyntheseError:
            return "stale"
        return "done" if recorded == current else "stale"

    def publish_state(self) -> str:
        from pipeline.publish import SITE_MANIFEST

        recorded = recorded_hash(self.outputs_dir / SITE_MANIFEST)
        if recorded is None:
            return "missing"
        rendered = [s for s in self.config.sessions if self.paths(s).render.is_file()]
        return "done" if recorded == self.publish_hash(rendered) else "stale"

    def status(self) -> list[tuple[str, dict[str, str]]]:
        rows = []
        for session in self.config.sessions:
            rows.append((session.id, {stage: self.stage_state(session, stage) for stage in STAGES[:3]}))
        return rows

    # --- locking ---------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the workspace for one run. The OS releases the lock when a process dies,
        so a lock left by a killed run is taken over without anyone deleting a file."""
        lock_path = self.root / ".synthese.lock"
        handle = open(lock_path, "a+")
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
