"""The stage table: each stage of a session declared once, with its artefact, the hash of what it
reads and how it runs on the workspace; then the cycle's synthesis and the site.

    stage        artefact                          reads
    transcribe   <id>.transcript.json (+ captions)  the replay or transcript file, transcribe/diarize settings
    tag          <id>.tags.json                     the transcript, the review file, the codebook, tag settings
    render       render/<id>.render.json (+ docs)   the tags, the session, render settings, templates

A stage is up to date when its artefact records the hash its inputs have now. `synthese run`,
`synthese status` and the review page's jobs all go through `SessionRun`, which computes each
hash once per run (right before deciding, since a stage's output is the next one's input) and
revises the transcript with the review file once, for both tagging and rendering.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .core.approval import ReviewTodo, approval_of, left_to_review, voice_pattern
from .core.artefacts import Approval, RenderManifest, SiteManifest, Tags, Transcript, recorded_hash
from .core.config import Config, Session, Speaker
from .core.errors import ReviewError, SyntheseError
from .core.glossary import GlossaryEntry, glossary_path, load_glossary
from .core.review_file import Review, ensure_review_file, load_cycle_review, load_review, revise_transcript
from .core.storage import hash_of, write_text
from .core.subtitles import WRITERS as CAPTION_WRITERS
from .render.compose import SessionInputs
from .render.document import SynthesisDocument
from .voices import learn, named_with, note_used, recognise, recognised_names
from .workspace import SessionPaths, Workspace

log = logging.getLogger(__name__)

REVIEW_TEMPLATE = "review.fr.yaml"
CYCLE_REVIEW_TEMPLATE = "cycle.review.fr.yaml"


# --- what each stage reads, hashed: a change anywhere makes the stage stale -------------------------
# Functions of files and settings, so that the stage commands on single files (files.py) record the
# same hashes as `synthese run`.

def transcribe_inputs_hash(source: Path, config: Config, speakers: Sequence[Speaker] = ()) -> str:
    from .transcribe.importers import is_transcript_file

    if is_transcript_file(source):
        return hash_of("import", source, [s.model_dump() for s in speakers])
    # The spelling hints (the session's title and names) are left out on purpose: correcting a
    # title or a name must not re-transcribe hours of audio; `run --force` re-transcribes with
    # the new hints, which the transcript records. The number of speakers declared sets how many
    # voices diarization looks for.
    return hash_of("transcribe", source, config.transcribe.model_dump(mode="json"),
                   config.diarize.model_dump(mode="json"), config.diarize.voices_to_find(len(speakers)))


def tag_inputs_hash(transcript: Path, review: Path, config: Config, session: Session | None = None) -> str:
    from .tag.tagging import wording_read

    weights = config.resolve(config.tag.weights_file) if config.tag.weights_file else None
    # The name index keeps the session's declared speakers and organisations and the cycle's organiser.
    declared = ([s.model_dump(mode="json") for s in session.speakers] if session else [], config.cycle.organiser)
    # Voices recognised by a voice profile are named like those of the review file: a new profile
    # that names a voice re-tags the session (counted only where there is one, so that a cycle
    # without voice profiles keeps its hashes). The cycle's glossary revises every session's
    # transcript like its review file (counted only where there is one, likewise).
    recognised = recognised_names(config, session, transcript, review)
    glossary = glossary_path(config.root)
    return hash_of("tag", transcript, config.tag.model_dump(mode="json"),
                   [t.model_dump(mode="json") for t in config.themes],
                   [a.model_dump(mode="json") for a in config.cycle.axes], config.acronyms, weights, review,
                   wording_read(config.templates.wording()), config.index.model_dump(mode="json"), declared,
                   *([recognised] if recognised else []), *([glossary] if glossary.exists() else []))


def render_inputs_hash(tags: Path, session: Session, config: Config) -> str:
    return hash_of("render", tags, session.model_dump(mode="json"), config.cycle.model_dump(mode="json"),
                   [t.model_dump(mode="json") for t in config.themes], config.render.model_dump(mode="json"),
                   config.templates.hash(include_site=False))


def cycle_inputs_hash(tags: Sequence[Path], sessions: Sequence[Session], config: Config,
                      review: Path | None = None) -> str:
    """What the cycle's synthesis reads, hashed: the sessions' tags and details, the cycle and its
    codebook, the render settings and templates, and the cycle's review file (`review`; until it
    is created, the template it is created from, so that creating it changes nothing)."""
    return hash_of("cycle", *tags, [s.model_dump(mode="json") for s in sessions],
                   config.cycle.model_dump(mode="json"), [t.model_dump(mode="json") for t in config.themes],
                   config.render.model_dump(mode="json"), config.templates.hash(include_site=False),
                   *([_cycle_review_hash(review, config)] if review is not None else []))


def _cycle_review_hash(path: Path, config: Config) -> str:
    import hashlib

    data = path.read_bytes() if path.is_file() else config.templates.read_text(CYCLE_REVIEW_TEMPLATE).encode()
    return hashlib.sha256(data).hexdigest()


def publish_inputs_hash(manifests: Sequence[Path], config: Config) -> str:
    # A replay copied into the site (publish.media: copy) is counted by its size and modification
    # time, not read: a new file publishes again, an unchanged one costs nothing.
    media = [_file_stamp(config.resolve(s.media)) for s in config.sessions if s.media] \
        if config.publish.media == "copy" else []
    return hash_of("publish", *manifests,  # each render manifest hashed by content
                   [s.model_dump(mode="json") for s in config.sessions],
                   config.cycle.model_dump(mode="json"), [t.model_dump(mode="json") for t in config.themes],
                   config.publish.model_dump(mode="json"), config.templates.hash(include_site=True),
                   *([media] if media else []))


def _file_stamp(path: Path) -> list[int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return [info.st_size, info.st_mtime_ns]


# --- the table ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    """One stage of a session: its name, its artefact, the hash of its inputs, and how it runs."""

    name: str
    artefact: Callable[[SessionPaths], Path]
    inputs_hash: Callable[[Workspace, Session], str]
    run: Callable[[SessionRun, str], Path]  # given the inputs hash computed for this run


def _transcribe_hash(ws: Workspace, session: Session) -> str:
    return transcribe_inputs_hash(ws.config.source_of(session), ws.config, session.speakers)


def _tag_hash(ws: Workspace, session: Session) -> str:
    paths = ws.paths(session)
    return tag_inputs_hash(paths.transcript, paths.review, ws.config, session)


def _render_hash(ws: Workspace, session: Session) -> str:
    return render_inputs_hash(ws.paths(session).tags, session, ws.config)


def stage_state(ws: Workspace, session: Session, stage: Stage) -> str:
    """'done', 'stale' (inputs changed since) or 'missing'."""
    recorded = recorded_hash(stage.artefact(ws.paths(session)))
    if recorded is None:
        return "missing"
    try:
        current = stage.inputs_hash(ws, session)
    except SyntheseError:
        return "stale"
    return "done" if recorded == current else "stale"


def status(ws: Workspace) -> list[tuple[str, dict[str, str]]]:
    """Per session, the state of each stage."""
    return [(s.id, {stage.name: stage_state(ws, s, stage) for stage in STAGES}) for s in ws.config.sessions]


@dataclass(frozen=True)
class ReviewStatus:
    """Where a session's review stands: its approval (from the review file and the transcript as
    they are now) and what is left to review; `error` when the review file does not parse."""

    approval: Approval
    todo: list[ReviewTodo]
    error: str = ""


def review_status(ws: Workspace, session: Session) -> ReviewStatus | None:
    """The session's review state now, or None before it is transcribed."""
    paths = ws.paths(session)
    try:
        transcript = Transcript.load(paths.transcript)
    except SyntheseError:
        return None
    try:
        review = session_review(ws.config, paths.review)  # the glossary changes the text approved too
    except ReviewError as exc:
        return ReviewStatus(Approval(), [], str(exc))
    try:
        tags = Tags.load(paths.tags) if paths.tags.is_file() else None
    except SyntheseError:
        tags = None
    voices = voice_pattern(ws.config.templates.wording()["speaker_label"])
    revised = revise_transcript(transcript, review)[0]
    return ReviewStatus(approval_of(review, revised), left_to_review(transcript, review, tags, voices,
                                                                             revised=revised))


def publication_plan(ws: Workspace, session: Session) -> dict[str, list[Session]]:
    """What publishing from `session`'s review page puts out, session by session: "approved",
    "marked" (not approved, published as a draft), "withheld" (not approved, kept out by
    publish.unreviewed: withhold), "missing" (documents not up to date, left out). The session
    itself is counted as its review file says now (the page renders it before publishing)."""
    plan: dict[str, list[Session]] = {"approved": [], "marked": [], "withheld": [], "missing": []}
    withhold = ws.config.publish.unreviewed == "withhold"
    for other in ws.config.sessions:
        if other.id == session.id:
            status = review_status(ws, other)
            approval = status.approval if status is not None else Approval()
        elif stage_state(ws, other, RENDER) == "done":
            approval = rendered_approval(ws, other)
        else:
            plan["missing"].append(other)
            continue
        plan["approved" if approval.final else "withheld" if withhold else "marked"].append(other)
    return plan


def describe_review(status: ReviewStatus | None, wording: dict) -> str:
    """'non relue (document de travail) ; reste à relire : 2 voix non nommées, …' in the wording's words."""
    from .core.typography import counted, french_date, french_text, join_list

    words = wording["review_state"]
    if status is None:
        return words["not_transcribed"]
    if status.error:
        return words["unreadable"].format(error=status.error)
    approval = status.approval
    if approval.state == "draft":
        text = words["draft"]
    else:
        at = dt.datetime.fromisoformat(approval.at)
        text = words[approval.state].format(by=approval.by, date=french_date(at.date()), time=at.strftime("%H:%M"))
    left = [counted(wording["review_todo"][t.kind], t.count) for t in status.todo if t.count]
    text += " ; " + (words["left"].format(items=join_list(left)) if left else words["nothing_left"])
    return french_text(text)


# --- one session's stages, on the workspace -----------------------------------------------------------

class SessionRun:
    """The stages of one session, run on the workspace in order, each only when its inputs changed."""

    def __init__(self, ws: Workspace, session: Session, *, quiet: bool = False):
        self.ws, self.session, self.quiet = ws, session, quiet
        self.config = ws.config
        self.paths = ws.paths(session)
        self.up_to_date: dict[str, bool] = {}
        # The transcript as the review file revises it: made once, by the tag stage, and passed
        # to the render stage of the same run.
        self._revised: Transcript | None = None

    def bring_up_to_date(self, *, force: bool = False, on_start: Callable[[str], None] | None = None,
                         on_done: Callable[[str], None] | None = None) -> list[str]:
        """Run the stages whose inputs changed (every one with `force`); return those that ran.
        `on_start` and `on_done` are told the name of each stage before and after it runs."""
        self.ws.check_input(self.session)
        self.ws.clear_partial_files(self.session)
        ran = []
        for stage in STAGES:
            if stage.name == "tag":
                for note in self.ws.transcript_notes(self.session):
                    log.warning("%s: %s", self.session.id, note)
                ensure_review(self.config, self.paths.review)
                learn(self.ws, self.session)  # the voices named in the review file, remembered
            inputs_hash = stage.inputs_hash(self.ws, self.session)
            if not force and recorded_hash(stage.artefact(self.paths)) == inputs_hash:
                log.info("%s: %s up to date", self.session.id, stage.name)
            else:
                log.info("%s: %s…", self.session.id, stage.name)
                if on_start is not None:
                    on_start(stage.name)
                stage.run(self, inputs_hash)
                ran.append(stage.name)
                if on_done is not None:
                    on_done(stage.name)
            self.up_to_date[stage.name] = True
        for warning in self._tag_warnings():
            log.warning("%s: %s", self.session.id, warning)
        return ran

    def run_stage(self, name: str) -> Path:
        """Run one stage now, whether or not it is up to date; return its artefact."""
        chosen = stage(name)
        return chosen.run(self, chosen.inputs_hash(self.ws, self.session))

    def _tag_warnings(self) -> list[str]:
        try:
            return Tags.load(self.paths.tags).warnings
        except SyntheseError:
            return []

    def transcribe(self, inputs_hash: str) -> Path:
        from .transcribe import transcribe

        paths = self.paths
        transcript = transcribe(self.config.source_of(self.session), self.config, self.session,
                                checkpoint=paths.checkpoint, quiet=self.quiet)
        transcript.inputs_hash = inputs_hash
        saved = save_transcript(transcript, paths)
        paths.checkpoint.unlink(missing_ok=True)
        return saved

    def tag(self, inputs_hash: str) -> Path:
        saved, self._revised = tag_transcript(self.config, self.session, self.paths, inputs_hash)
        return saved

    def render(self, inputs_hash: str) -> Path:
        from .render import render_session

        tags = Tags.load(self.paths.tags)
        transcript = self._revised if self._revised is not None else transcript_beside(tags, self.config)
        manifest = render_session(SessionInputs(self.session, tags, transcript), self.config,
                                  out_dir=self.paths.render_dir, stem=self.paths.stem)
        manifest.inputs_hash = inputs_hash
        return manifest.save(self.paths.render)


STAGES: tuple[Stage, ...] = (
    Stage("transcribe", lambda paths: paths.transcript, _transcribe_hash, SessionRun.transcribe),
    Stage("tag", lambda paths: paths.tags, _tag_hash, SessionRun.tag),
    Stage("render", lambda paths: paths.render, _render_hash, SessionRun.render),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)


def stage(name: str) -> Stage:
    """The stage of that name in the table."""
    return next(s for s in STAGES if s.name == name)


# --- the work of each stage, shared with the commands on single files ------------------------------

def save_transcript(transcript: Transcript, paths: SessionPaths) -> Path:
    """The transcript and the machine's captions (.machine.vtt, .srt, .txt); the JSON last, since
    its inputs hash is what marks the stage done."""
    for extension, writer in CAPTION_WRITERS.items():
        write_text(paths.machine_captions(extension), writer(transcript.segments))
    return transcript.save(paths.transcript)


def cycle_glossary(config: Config) -> list[GlossaryEntry]:
    """The cycle's glossary (glossary.yaml beside config.yaml); ReviewError when it does not parse."""
    return load_glossary(glossary_path(config.root))


def session_review(config: Config, path: Path) -> Review:
    """What revises a session's transcript: its review file and the cycle's glossary (ReviewError
    when either does not parse). The stages read the review through it."""
    review = load_review(path)
    review.glossary = cycle_glossary(config)
    return review


def ensure_review(config: Config, path: Path) -> None:
    """The review file from its template (its explanations, empty lists) when it is missing."""
    ensure_review_file(path, config.templates.read_text(REVIEW_TEMPLATE))


def tag_transcript(config: Config, session: Session | None, paths: SessionPaths, inputs_hash: str, *,
                   transcript_path: Path | None = None) -> tuple[Path, Transcript]:
    """Tag the transcript (`paths.transcript` unless another file is given) with the review file
    of `paths`, and save the tags there; return their path and the transcript as the review
    revised it."""
    from .tag import tag

    ensure_review(config, paths.review)
    review = session_review(config, paths.review)  # before any work: a broken file stops the stage
    transcript = Transcript.load(transcript_path or paths.transcript)
    recognition = recognise(config, session, transcript, review)
    revised, orphaned = revise_transcript(transcript, named_with(review, recognition.recognised))
    machine = machine_tags_cached(revised, config, paths.tagger_cache)
    tags = tag(transcript, config, review=review, review_file=paths.review.name, machine=machine,
               revised=(revised, orphaned), session=session, session_id=session.id if session else None)
    # Draft, approved or changed since: the render stage marks the documents from it.
    tags.review.approval = approval_of(review, revised)
    tags.review.recognised = recognition.recognised
    tags.inputs_hash = inputs_hash
    saved = tags.save(paths.tags)
    note_used(config, [r.name for r in recognition.recognised.values()])
    return saved, revised


def machine_tags_cached(transcript: Transcript, config: Config, cache: Path):
    """The tagger's work on a (revised) transcript, from `cache` when the transcript, the tag
    options and the codebook are those it was made with: a review edit of themes or excerpts
    is then re-applied in a second."""
    from . import __version__
    from .tag.tagging import MachineTags, codebook, machine_tags, wording_read

    key = hash_of([s.model_dump(mode="json") for s in transcript.segments], config.tag.model_dump(mode="json"),
                  codebook(config).model_dump(), config.acronyms, wording_read(config.templates.wording()),
                  __version__, MachineTags.VERSION)
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return MachineTags.from_json(cached)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    machine = machine_tags(transcript, config)
    write_text(cache, json.dumps({"key": key, **machine.to_json()}, ensure_ascii=False))
    return machine


def transcript_beside(tags: Tags, config: Config) -> Transcript | None:
    """The transcript a tags artefact names, read from beside it (never elsewhere), as the
    review file beside it and the cycle's glossary revise it, with the voices the tags record as
    recognised named so; None when it is missing, then the annex is built from the passages."""
    if not tags.transcript or tags.path is None:
        return None
    path = tags.path.parent / Path(tags.transcript).name
    if not path.is_file():
        log.warning("%s: transcript %s not found; the annex is built from the passages", tags.path, path)
        return None
    transcript = Transcript.load(path)
    recognised = tags.review.recognised  # the voices the tag stage named by a voice profile
    review = session_review(config, tags.path.parent / Path(tags.review.file).name) if tags.review.file else Review(
        glossary=cycle_glossary(config))
    return revise_transcript(transcript, named_with(review, recognised))[0]


def session_document(config: Config, session: Session, tags: Tags, transcript: Transcript | None) -> SynthesisDocument:
    """The session's synthesis as the documents will show it (the review page previews its chapters)."""
    from .render.compose import build_document

    return build_document(SessionInputs(session, tags, transcript), config, stem=session.id)


# --- the cycle's synthesis and the site ---------------------------------------------------------------

class CycleRun:
    """The cycle's synthesis and the published site, after the sessions: each rendered or
    published only when what it reads changed, each hash computed once."""

    def __init__(self, ws: Workspace, rendered: Sequence[Session] | None = None):
        self.ws = ws
        # The sessions whose documents are up to date, in config order; with
        # `publish.unreviewed: withhold`, those approved only: the others stay out of the cycle's
        # synthesis and of the site.
        candidates = list(rendered) if rendered is not None else [
            s for s in ws.config.sessions if stage_state(ws, s, RENDER) == "done"]
        self.approvals = {s.id: rendered_approval(ws, s) for s in candidates}
        withhold = ws.config.publish.unreviewed == "withhold"
        self.withheld = [s for s in candidates if withhold and not self.approvals[s.id].final]
        self.rendered = [s for s in candidates if s not in self.withheld]
        if self.withheld:
            log.info("publish: %s withheld until approved (publish.unreviewed: withhold)",
                     ", ".join(s.id for s in self.withheld))

    def cycle_state(self) -> str:
        return _state(self.ws.cycle_paths.render, lambda: self.cycle_hash)

    @functools.cached_property
    def cycle_hash(self) -> str:
        return cycle_inputs_hash([self.ws.paths(s).tags for s in self.rendered], self.rendered, self.ws.config,
                                 self.ws.cycle_paths.review)

    def publish_hash(self) -> str:
        """What the site shows, hashed: the render manifests (the cycle's included, so compute
        it once the cycle's synthesis is up to date)."""
        manifests = [self.ws.paths(s).render for s in self.rendered]
        if self.rendered:
            manifests.append(self.ws.cycle_paths.render)
        return publish_inputs_hash(manifests, self.ws.config)

    def publish_state(self) -> str:
        return _state(self.ws.outputs_dir / SiteManifest.FILE, self.publish_hash)

    def bring_up_to_date(self, *, force: bool = False,
                         on_step: Callable[[str], None] | None = None) -> SiteManifest | None:
        """Render the cycle's synthesis when stale, then publish the site when what it shows
        changed (both always with `force`); return the site's manifest, None when up to date."""
        self.update_cycle(force=force, on_step=on_step)
        inputs_hash = self.publish_hash()
        if not force and recorded_hash(self.ws.outputs_dir / SiteManifest.FILE) == inputs_hash:
            log.info("publish up to date")
            return None
        return self.publish_site(inputs_hash, on_step=on_step)

    def update_cycle(self, *, force: bool = False, on_step: Callable[[str], None] | None = None) -> None:
        """The cycle's synthesis from the rendered sessions' tags, in transcripts/_cycle/render/,
        when it is stale (always with `force`)."""
        from .render import render_cycle

        if not self.rendered or (not force and self.cycle_state() == "done"):
            return
        log.info("cycle: render…")
        if on_step is not None:
            on_step("cycle")
        paths = self.ws.cycle_paths
        # What staff write for the cycle (introduction, tensions): the file from its template
        # when it is missing, then read before any work, so that a broken one stops here.
        ensure_review_file(paths.review, self.ws.config.templates.read_text(CYCLE_REVIEW_TEMPLATE))
        review = load_cycle_review(paths.review)
        inputs = []
        for session in self.rendered:
            tags = Tags.load(self.ws.paths(session).tags)
            inputs.append(SessionInputs(session, tags, transcript_beside(tags, self.ws.config)))
        manifest = render_cycle(inputs, self.ws.config, out_dir=paths.render_dir, stem=paths.stem, review=review)
        manifest.inputs_hash = self.cycle_hash
        manifest.save(paths.render)

    def publish_site(self, inputs_hash: str | None = None, *,
                     on_step: Callable[[str], None] | None = None) -> SiteManifest:
        """Lay out the site from the rendered sessions and the cycle's synthesis, and swap it in."""
        from .publish import PublishedSession, publish

        log.info("publish: %d session(s) into %s…", len(self.rendered), self.ws.outputs_dir)
        if on_step is not None:
            on_step("publish")
        cycle = RenderManifest.load(self.ws.cycle_paths.render) if self.rendered else None
        sessions = [PublishedSession(s, RenderManifest.load(self.ws.paths(s).render), self.ws.paths(s).subtitles)
                    for s in self.rendered]
        return publish(self.ws.config, sessions, cycle, output_dir=self.ws.outputs_dir, protected=self.ws.protected(),
                       inputs_hash=inputs_hash if inputs_hash is not None else self.publish_hash())


RENDER = STAGES[-1]


def rendered_approval(ws: Workspace, session: Session) -> Approval:
    """The review state the session's documents were rendered with (a draft when unknown)."""
    try:
        return RenderManifest.load(ws.paths(session).render).approval
    except SyntheseError:
        return Approval()


def _state(artefact: Path, current: Callable[[], str]) -> str:
    recorded = recorded_hash(artefact)
    if recorded is None:
        return "missing"
    return "done" if recorded == current() else "stale"


def publish_workspace(ws: Workspace) -> SiteManifest:
    """`synthese publish`: lay out the site from the sessions rendered with the current settings
    (and the cycle's synthesis); a session whose documents are out of date is an error saying
    what to run."""
    rendered = [s for s in ws.config.sessions if ws.paths(s).render.is_file()]
    stale = [s.id for s in rendered if stage_state(ws, s, RENDER) != "done"]
    if stale:
        raise SyntheseError(f"session(s) {', '.join(stale)}: the documents are out of date (the transcript, "
                            "tags, config.yaml or templates changed since they were rendered). Run `synthese run` "
                            "to render them again and publish.")
    cycle = CycleRun(ws, rendered)
    cycle.update_cycle()
    return cycle.publish_site()
