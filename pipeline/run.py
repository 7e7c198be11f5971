"""Running the pipeline: every stage for the sessions of config.yaml, and each stage alone on files.

This layer holds what the stages leave to their callers: where artefacts live and how they are
saved, whether a stage is up to date (the inputs hashes of workspace.py), the tagger's cache and
the workspace lock. The stages themselves (transcribe, tag, render, publish) are functions of
their inputs.

`run_all` brings every session up to date; a session that fails, for any reason, is reported
with its id and the others still complete and are published.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .core.artefacts import RenderManifest, SiteManifest, Tags, Transcript, recorded_hash
from .core.config import Config, Session
from .core.errors import InputError, SyntheseError
from .core.storage import hash_of, read_jsonl, write_text
from .render.compose import SessionInputs
from .render.document import SynthesisDocument
from .workspace import (
    Workspace,
    render_inputs_hash,
    tag_inputs_hash,
    transcribe_inputs_hash,
)

log = logging.getLogger(__name__)

REVIEW_TEMPLATE = "review.fr.yaml"


@dataclass
class RunReport:
    done: dict[str, list[str]] = field(default_factory=dict)  # session id -> stages that ran
    failed: dict[str, str] = field(default_factory=dict)  # session id -> error message
    published: bool = False


# --- saving and loading artefacts -----------------------------------------------------------------

def save_transcript(transcript: Transcript, folder: Path, stem: str) -> Path:
    """The transcript and its captions (.vtt, .srt, .txt); the JSON last, since its inputs hash
    is what marks the stage done."""
    from .core.subtitles import WRITERS

    for extension, writer in WRITERS.items():
        write_text(folder / f"{stem}.{extension}", writer(transcript.segments))
    return transcript.save(folder / f"{stem}.transcript.json")


def session_document(config: Config, session: Session, tags: Tags, transcript: Transcript | None) -> SynthesisDocument:
    """The session's synthesis as the documents will show it (the review page previews its chapters)."""
    from .render.compose import build_document

    return build_document(SessionInputs(session, tags, transcript), config, stem=session.id)


def transcript_beside(tags: Tags) -> Transcript | None:
    """The transcript a tags artefact names, read from beside it (never elsewhere), as the
    review file beside it revises it; None when it is missing, then the annex is built from the
    passages."""
    from .core.review_file import load_review, revise_transcript

    if not tags.transcript or tags.path is None:
        return None
    path = tags.path.parent / Path(tags.transcript).name
    if not path.is_file():
        log.warning("%s: transcript %s not found; the annex is built from the passages", tags.path, path)
        return None
    transcript = Transcript.load(path)
    if not tags.review.file:
        return transcript
    review = load_review(tags.path.parent / Path(tags.review.file).name)
    return revise_transcript(transcript, review)[0]


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


# --- one stage for one session of the workspace ------------------------------------------------------

def transcribe_session(ws: Workspace, session: Session, *, quiet: bool = False) -> Path:
    from .transcribe.transcription import transcribe

    paths = ws.paths(session)
    transcript = transcribe(ws.config.source_of(session), ws.config, session,
                                       checkpoint=paths.checkpoint, quiet=quiet)
    transcript.inputs_hash = ws.transcribe_hash(session)
    saved = save_transcript(transcript, paths.folder, paths.stem)
    paths.checkpoint.unlink(missing_ok=True)
    return saved


def ensure_review(config: Config, path: Path) -> None:
    from .core.review_file import ensure_review_file

    ensure_review_file(path, config.templates.read_text(REVIEW_TEMPLATE))


def tag_session(ws: Workspace, session: Session | None, *, transcript_path: Path, folder: Path, stem: str) -> Path:
    """Tag a transcript and save `<stem>.tags.json` in `folder`, with its review file beside."""
    from .core.review_file import load_review, revise_transcript
    from .tag.tagging import tag

    config = ws.config
    review_path = folder / f"{stem}.review.yaml"
    ensure_review(config, review_path)
    inputs_hash = tag_inputs_hash(transcript_path, review_path, config, session)
    review = load_review(review_path)  # before any work: a broken file stops the stage
    transcript = Transcript.load(transcript_path)
    revised, _ = revise_transcript(transcript, review)
    machine = machine_tags_cached(revised, config, folder / f".{stem}.tagger-cache.json")
    tags = tag(transcript, config, review=review, review_file=review_path.name,
               session_id=session.id if session else None, machine=machine, session=session)
    tags.inputs_hash = inputs_hash
    return tags.save(folder / f"{stem}.tags.json")


def render_session(ws: Workspace, session: Session, tags_path: Path, *, out_dir: Path, stem: str,
                   formats: Sequence[str] | None = None) -> Path:
    from .render import rendering

    inputs_hash = render_inputs_hash(tags_path, session, ws.config)
    tags = Tags.load(tags_path)
    manifest = rendering.render_session(SessionInputs(session, tags, transcript_beside(tags)), ws.config,
                                     out_dir=out_dir, stem=stem, formats=formats)
    manifest.inputs_hash = inputs_hash
    return manifest.save(out_dir / f"{stem}.render.json")


def render_cycle(ws: Workspace, sessions: Sequence[Session]) -> Path:
    """The cycle's synthesis from the sessions' tags, in transcripts/_cycle/render/."""
    from .render import rendering

    paths = ws.cycle_paths
    inputs_hash = ws.cycle_hash(sessions)
    inputs = []
    for session in sessions:
        tags = Tags.load(ws.paths(session).tags)
        inputs.append(SessionInputs(session, tags, transcript_beside(tags)))
    manifest = rendering.render_cycle(inputs, ws.config, out_dir=paths.render_dir, stem=paths.stem)
    manifest.inputs_hash = inputs_hash
    return manifest.save(paths.render)


def publish_workspace(ws: Workspace) -> SiteManifest:
    """Lay out the site from the sessions rendered with the current settings (and the cycle's
    synthesis); a session whose documents are out of date is an error saying what to run."""
    from .publish.publishing import PublishedSession, publish

    rendered = [s for s in ws.config.sessions if ws.paths(s).render.is_file()]
    stale = [s.id for s in rendered if ws.stage_state(s, "render") != "done"]
    if stale:
        raise SyntheseError(f"session(s) {', '.join(stale)}: the documents are out of date (the transcript, "
                            "tags, config.yaml or templates changed since they were rendered). Run `synthese run` "
                            "to render them again and publish.")
    cycle = None
    if rendered:
        if ws.cycle_state(rendered) != "done":
            render_cycle(ws, rendered)
        cycle = RenderManifest.load(ws.cycle_paths.render)
    sessions = [PublishedSession(s, ws.load_render(s), ws.paths(s).subtitles) for s in rendered]
    return publish(ws.config, sessions, cycle, output_dir=ws.outputs_dir, protected=ws.protected(),
                   inputs_hash=ws.publish_hash(rendered))


# --- `synthese run` ----------------------------------------------------------------------------------

def run_session(ws: Workspace, session: Session, *, force: bool = False, quiet: bool = False) -> list[str]:
    """Bring one session's artefacts up to date; return the stages that did work."""
    config, paths, ran = ws.config, ws.paths(session), []
    ws.clear_partial_files(session)

    def needed(stage: str, artefact: Path, inputs_hash: str) -> bool:
        if not force and recorded_hash(artefact) == inputs_hash:
            log.info("%s: %s up to date", session.id, stage)
            return False
        log.info("%s: %s…", session.id, stage)
        ran.append(stage)
        return True

    if needed("transcribe", paths.transcript, ws.transcribe_hash(session)):
        transcribe_session(ws, session, quiet=quiet)
    for note in ws.transcript_notes(session):
        log.warning("%s: %s", session.id, note)
    ensure_review(config, paths.review)
    if needed("tag", paths.tags, ws.tag_hash(session)):
        tag_session(ws, session, transcript_path=paths.transcript, folder=paths.folder, stem=paths.stem)
    if needed("render", paths.render, ws.render_hash(session)):
        render_session(ws, session, paths.tags, out_dir=paths.render_dir, stem=paths.stem)
    return ran


def run_all(config: Config, session_ids: Sequence[str] | None = None, *, force: bool = False,
            quiet: bool = False) -> RunReport:
    """Run the pipeline on the chosen sessions (all by default), then publish the site."""
    ws = Workspace(config)
    sessions = [config.session(i) for i in session_ids] if session_ids else list(config.sessions)
    report = RunReport()
    with ws.lock():
        for session in sessions:
            try:
                report.done[session.id] = run_session(ws, session, force=force, quiet=quiet)
            except SyntheseError as exc:
                log.error("Error: session %s: %s", session.id, exc)
                report.failed[session.id] = str(exc)
            except Exception as exc:  # noqa: BLE001 - one session's failure must not stop the others
                log.debug("session %s failed", session.id, exc_info=True)
                message = f"unexpected {type(exc).__name__}: {exc} (run with --debug for details and report it)"
                log.error("Error: session %s: %s", session.id, message)
                report.failed[session.id] = message
        rendered = ws.rendered_sessions()
        if rendered and (force or ws.cycle_state(rendered) != "done"):
            log.info("cycle: render…")
            render_cycle(ws, rendered)
        if force or ws.publish_state() != "done":
            log.info("publish: %d session(s) into %s…", len(rendered), ws.outputs_dir)
            publish_workspace(ws)
            report.published = True
        else:
            log.info("publish up to date")
    return report


# --- each stage alone, on files (`synthese transcribe/tag/render FILE`) -----------------------------

def _stem_of(path: Path, suffix: str) -> str:
    name = path.name
    for ending in (suffix, path.suffix):
        if ending and name.lower().endswith(ending.lower()) and len(name) > len(ending):
            return name[: -len(ending)]
    return name


def transcribe_files(inputs: Sequence[Path], config: Config, *, output_dir: Path, model: str | None = None,
                     language: str | None = None, speakers: int | None = None, quiet: bool = False) -> list[Path]:
    """`synthese transcribe INPUT... -o DIR`: each input to DIR/<stem>.transcript.json (+ captions).

    A failing input is reported as one `Error: ...` line and the others still run; a
    SyntheseError at the end says how many failed.
    """
    from .transcribe.transcription import transcribe

    overrides = {k: v for k, v in (("model", model), ("language", language)) if v}
    if overrides:
        config = config.model_copy(update={"transcribe": config.transcribe.model_copy(update=overrides)})
    if speakers is not None:
        config = config.model_copy(update={"diarize": config.diarize.model_copy(update={"speakers": speakers})})
    written, failed = [], []
    for source in map(Path, inputs):
        stem = _stem_of(source, ".transcript.json")
        # A session's own replay is transcribed as `synthese run` would: with its speakers.
        session = next((s for s in config.sessions if config.resolve(s.source).resolve() == source.resolve()), None)
        try:
            inputs_hash = transcribe_inputs_hash(source, config, session.speakers if session else ())
            transcript = transcribe(source, config, session,
                                    checkpoint=output_dir / f".{stem}.transcribe-checkpoint.json", quiet=quiet)
            transcript.inputs_hash = inputs_hash
            written.append(save_transcript(transcript, output_dir, stem))
            (output_dir / f".{stem}.transcribe-checkpoint.json").unlink(missing_ok=True)
            log.info("%s -> %s", source, written[-1])
        except SyntheseError as exc:
            log.error("Error: %s", exc)
            failed.append(source.name)
    if failed:
        raise SyntheseError(f"{len(failed)} of {len(inputs)} input(s) failed: {', '.join(failed)} "
                            "(see the messages above); the others were written.")
    return written


def tag_file(transcript: Path, config: Config, *, output_dir: Path | None = None) -> Path:
    """`synthese tag TRANSCRIPT.json [-o DIR]`: tag one transcript file outside `synthese run`."""
    if transcript.suffix.lower() in (".vtt", ".srt", ".txt", ".docx"):
        raise InputError(f"{transcript.name}: `synthese tag` reads a .transcript.json file. Import this one first "
                         f"with `synthese transcribe {transcript}`, then tag the .transcript.json it writes.")
    if not transcript.is_file():
        raise InputError(f"{transcript}: file not found. Pass a <session>.transcript.json file.")
    stem = _stem_of(transcript, ".transcript.json")
    session = next((s for s in config.sessions if s.id == stem), None)
    folder = output_dir or transcript.parent
    ws = Workspace(config)
    return tag_session(ws, session, transcript_path=transcript, folder=folder, stem=stem)


def _session_for(tags: Tags, stem: str, config: Config) -> Session:
    """The config session the tags belong to, or a minimal one named after the file."""
    import re

    from .render.document import sort_key

    for session in config.sessions:
        if session.id == tags.session_id:
            return session
    # A folder-safe id: accents dropped ('Séance 4' -> 'seance-4'), anything else to '-'.
    plain = sort_key(tags.session_id or stem)
    safe_id = re.sub(r"[^a-z0-9_-]+", "-", plain).strip("-_")[:64] or "seance"
    return Session(id=safe_id, title=tags.session_id or stem, transcript=tags.path or Path(stem))


def render_file(tags_path: Path, config: Config, *, output_dir: Path | None = None,
                formats: Sequence[str] | None = None) -> Path:
    """`synthese render TAGS.json [-o DIR]`: render the session the tags belong to (default
    output folder: `render/` beside the tags); return the manifest's path."""
    from .render.rendering import check_formats

    chosen = check_formats(formats if formats is not None else config.render.formats)
    tags = Tags.load(tags_path)
    stem = _stem_of(tags_path, ".tags.json")
    session = _session_for(tags, stem, config)
    out_dir = output_dir if output_dir is not None else tags_path.parent / "render"
    manifest = render_session(Workspace(config), session, tags_path, out_dir=out_dir, stem=stem, formats=chosen)
    log.info("Rendered %s into %s", ", ".join(chosen), out_dir)
    return manifest


def classify_file(passages: Path, output: Path, config: Config) -> Path:
    """Evaluation mode: JSONL rows {"id", "text"} in, rows {"id", "themes", "scores"} out.

    Each row is classified as it is (no re-segmentation); `themes` are the ids whose score
    reaches the threshold, best first, and `scores` holds every theme's score.
    """
    from .tag.tagging import classify_texts
    from .tag.themes import above_threshold

    rows = []
    for number, row in read_jsonl(passages, '{"id", "text"}'):
        if not isinstance(row.get("text"), str) or "id" not in row:
            raise InputError(f"{passages.name}, line {number}: each row needs \"id\" and \"text\". Fix that line.")
        rows.append(row)
    out_lines = []
    for row, scores in zip(rows, classify_texts([r["text"] for r in rows], config)):
        tagged = above_threshold(scores, config.tag)
        out_lines.append(json.dumps({"id": row["id"], "themes": [s.theme_id for s in tagged],
                                     "scores": {s.theme_id: s.score for s in scores}}, ensure_ascii=False))
    write_text(output, "".join(f"{line}\n" for line in out_lines))
    log.info("%s: %d passages classified", output.name, len(out_lines))
    return output


# --- keyword weights from labelled passages ----------------------------------------------------

def export_labels_file(tags_path: Path, output: Path, *, every_passage: bool = False) -> Path:
    """`synthese tag SESSION.tags.json --export-labels OUT.jsonl`: the reviewed passages as labels."""
    from .core.review_file import load_review
    from .tag.calibrate import export_labels

    tags = Tags.load(tags_path)
    if tags.review.status != "reviewed":
        log.warning("%s: not reviewed (no decision applied), so there are no labels to export", tags_path.name)
    review = tags_path.parent / Path(tags.review.file).name if tags.review.file else None
    decisions = load_review(review).decisions if review is not None else []
    rows = export_labels(tags, decisions, every_passage=every_passage)
    write_text(output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    log.info("%s: %d labelled passages from %s", output.name, len(rows), tags_path.name)
    return output


def calibrate_files(label_paths: Sequence[Path], output: Path, config: Config) -> Path:
    """`synthese calibrate LABELS.jsonl... -o FILE`: estimate the keywords' weights and write FILE."""
    from .tag.calibrate import calibrate, weights_yaml

    calibration = calibrate(label_paths, config)
    write_text(output, weights_yaml(calibration, sources=[p.name for p in label_paths], options=config.tag))
    log.info("%s: weights of %d keywords, threshold %.3f from %d labelled passages; point tag.weights_file at it "
             "to use them", output.name, sum(len(w) for w in calibration.weights.values()),
             calibration.combination.threshold, calibration.passages)
    return output
