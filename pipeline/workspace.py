"""The workspace: where each session's artefacts live, which stages are up to date, and the lock.

Layout, relative to config.yaml:
    transcripts/<session-id>/<id>.transcript.json (+ .vtt .srt .txt)   stage 1
    transcripts/<session-id>/<id>.tags.json, <id>.review.yaml          stage 2
    transcripts/<session-id>/render/<id>.pdf .docx .html .render.json  stage 3
    transcripts/_cycle/render/cycle.pdf .docx .html .render.json       stage 3, the whole cycle
    outputs/                                                           stage 4 (the site)

A stage is up to date when its artefact records the hash its inputs have now: each stage's
inputs are hashed by one function here, used by `synthese run` and the stage commands alike.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .core.artefacts import RenderManifest, SiteManifest, Tags, Transcript, recorded_hash
from .core.config import Config, Session, Speaker
from .core.errors import LockError, SyntheseError
from .core.storage import hash_of
from .core.typography import timestamp
from .transcribe.importers import is_transcript_file

log = logging.getLogger(__name__)

STAGES = ("transcribe", "tag", "render", "publish")
CYCLE_FOLDER = "_cycle"  # session ids start with a letter or digit, so this can never be one
CYCLE_STEM = "cycle"


@dataclass(frozen=True)
class SessionPaths:
    folder: Path
    stem: str

    @property
    def transcript(self) -> Path:
        return self.folder / f"{self.stem}.transcript.json"

    @property
    def subtitles(self) -> Path:
        return self.folder / f"{self.stem}.vtt"

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


# --- what each stage reads, hashed: a change anywhere makes the stage stale -----------------

def transcribe_inputs_hash(source: Path, config: Config, speakers: Sequence[Speaker] = ()) -> str:
    if is_transcript_file(source):
        return hash_of("import", source, [s.model_dump() for s in speakers])
    # The spelling hints (the session's title and names) are left out on purpose: correcting a
    # title or a name must not re-transcribe hours of audio; `run --force` re-transcribes with
    # the new hints, which the transcript records. The number of speakers declared sets how many
    # voices diarization looks for.
    return hash_of("transcribe", source, config.transcribe.model_dump(mode="json"),
                   config.diarize.model_dump(mode="json"), config.diarize.voices_to_find(len(speakers)))


def tag_inputs_hash(transcript: Path, review: Path, config: Config, session: Session | None = None) -> str:
    weights = config.resolve(config.tag.weights_file) if config.tag.weights_file else None
    # The name index keeps the session's declared speakers and organisations and the cycle's organiser.
    declared = ([s.model_dump(mode="json") for s in session.speakers] if session else [], config.cycle.organiser)
    return hash_of("tag", transcript, config.tag.model_dump(mode="json"),
                   [t.model_dump(mode="json") for t in config.themes], config.acronyms, weights, review,
                   config.templates.wording()["name_articles"], config.templates.wording().get("meta_talk"),
                   config.index.model_dump(mode="json"), declared)


def render_inputs_hash(tags: Path, session: Session, config: Config) -> str:
    return hash_of("render", tags, session.model_dump(mode="json"), config.cycle.model_dump(mode="json"),
                   [t.model_dump(mode="json") for t in config.themes], config.render.model_dump(mode="json"),
                   config.templates.hash(include_site=False))


def cycle_inputs_hash(tags: Sequence[Path], sessions: Sequence[Session], config: Config) -> str:
    return hash_of("cycle", *tags, [s.model_dump(mode="json") for s in sessions],
                   config.cycle.model_dump(mode="json"), [t.model_dump(mode="json") for t in config.themes],
                   config.render.model_dump(mode="json"), config.templates.hash(include_site=False))


def publish_inputs_hash(manifests: Sequence[Path], config: Config) -> str:
    return hash_of("publish", *manifests,  # each render manifest hashed by content
                   [s.model_dump(mode="json") for s in config.sessions],
                   config.cycle.model_dump(mode="json"), [t.model_dump(mode="json") for t in config.themes],
                   config.publish.model_dump(mode="json"), config.templates.hash(include_site=True))


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
        paths = [self.config.path, self.transcripts_dir]
        for session in self.config.sessions:
            source = self.config.resolve(session.source)
            if source.exists():
                paths.append(source)
        if self.config.render.templates is not None:
            paths.append(self.config.resolve(self.config.render.templates))
        return paths

    def transcribe_hash(self, session: Session) -> str:
        return transcribe_inputs_hash(self.config.source_of(session), self.config, session.speakers)

    def tag_hash(self, session: Session) -> str:
        paths = self.paths(session)
        return tag_inputs_hash(paths.transcript, paths.review, self.config, session)

    def render_hash(self, session: Session) -> str:
        return render_inputs_hash(self.paths(session).tags, session, self.config)

    def rendered_sessions(self) -> list[Session]:
        """The sessions whose documents are up to date, in config order."""
        return [s for s in self.config.sessions if self.stage_state(s, "render") == "done"]

    def cycle_hash(self, sessions: Sequence[Session]) -> str:
        return cycle_inputs_hash([self.paths(s).tags for s in sessions], sessions, self.config)

    def publish_hash(self, sessions: Sequence[Session]) -> str:
        manifests = [self.paths(s).render for s in sessions]
        if sessions:
            manifests.append(self.cycle_paths.render)
        return publish_inputs_hash(manifests, self.config)

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

    def cycle_state(self, sessions: Sequence[Session]) -> str:
        recorded = recorded_hash(self.cycle_paths.render)
        if recorded is None:
            return "missing"
        return "done" if recorded == self.cycle_hash(sessions) else "stale"

    def publish_state(self) -> str:
        recorded = recorded_hash(self.outputs_dir / SiteManifest.FILE)
        if recorded is None:
            return "missing"
        return "done" if recorded == self.publish_hash(self.rendered_sessions()) else "stale"

    def status(self) -> list[tuple[str, dict[str, str]]]:
        return [(s.id, {stage: self.stage_state(s, stage) for stage in STAGES[:3]}) for s in self.config.sessions]

    def notes(self, session: Session) -> list[str]:
        """What staff should know about a session: speech left untranscribed, voices heard that
        differ from the speakers declared, review decisions that no longer apply."""
        notes = self.transcript_notes(session)
        tags = self.paths(session).tags
        if tags.is_file():
            try:
                notes += [f"review decision not applied: {o}" for o in Tags.load(tags).review.orphaned]
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
        voices = transcript.diarization or {}
        heard = voices.get("estimated_speakers") or voices.get("speakers_found")
        if voices.get("declared") and heard and heard != voices["declared"]:
            notes.append(f"{heard} voice(s) heard, {voices['declared']} speaker(s) declared in config.yaml")
        why = {"no_speech_decoded": "speech heard, no words could be decoded",
               "other_language": "another language, no words could be decoded"}
        for gap in transcript.gaps:
            notes.append(f"speech not transcribed {timestamp(gap.start)}–{timestamp(gap.end)} "
                         f"({why.get(gap.reason, gap.reason.replace('_', ' '))}): listen to it on the review page")
        return notes

    def load_render(self, session: Session) -> RenderManifest:
        return RenderManifest.load(self.paths(session).render)

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

