"""Each stage alone, on files (`synthese transcribe/tag/render FILE`), and the tools on labelled
passages (`synthese tag --passages`, `--export-labels`, `synthese calibrate`).

The artefacts record the same inputs hashes as `synthese run` (stages.py), so a file made here
in a session's folder is up to date for `synthese run`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from .core.artefacts import Tags
from .core.config import Config, Session
from .core.errors import InputError, SyntheseError, unforeseen
from .core.storage import read_jsonl, write_text
from .stages import (
    render_inputs_hash,
    save_transcript,
    tag_inputs_hash,
    tag_transcript,
    transcribe_inputs_hash,
    transcript_beside,
)
from .workspace import SessionPaths

log = logging.getLogger(__name__)


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
    from .transcribe import transcribe

    overrides = {k: v for k, v in (("model", model), ("language", language)) if v}
    if overrides:
        config = config.model_copy(update={"transcribe": config.transcribe.model_copy(update=overrides)})
    if speakers is not None:
        config = config.model_copy(update={"diarize": config.diarize.model_copy(update={"speakers": speakers})})
    written, failed = [], []
    for source in map(Path, inputs):
        paths = SessionPaths(output_dir, _stem_of(source, ".transcript.json"))
        # A session's own replay is transcribed as `synthese run` would: with its speakers.
        session = next((s for s in config.sessions if config.resolve(s.source).resolve() == source.resolve()), None)
        try:
            _never_over(source, paths)
            inputs_hash = transcribe_inputs_hash(source, config, session.speakers if session else ())
            transcript = transcribe(source, config, session, checkpoint=paths.checkpoint, quiet=quiet)
            transcript.inputs_hash = inputs_hash
            written.append(save_transcript(transcript, paths))
            paths.checkpoint.unlink(missing_ok=True)
            log.info("%s -> %s", source, written[-1])
        except SyntheseError as exc:
            log.error("Error: %s", exc)
            failed.append(source.name)
        except Exception as exc:  # noqa: BLE001 - one input's failure must not stop the others
            log.debug("%s failed", source, exc_info=True)
            log.error("Error: %s: %s", source, unforeseen(exc))
            failed.append(source.name)
    if failed:
        raise SyntheseError(f"{len(failed)} of {len(inputs)} input(s) failed: {', '.join(failed)} "
                            "(see the messages above); the others were written.")
    return written


def _never_over(source: Path, paths: SessionPaths) -> None:
    """Refuse to write where the input is: `-o` pointing at an input's own folder and name."""
    for output in paths.written():
        if output.resolve() == source.resolve():
            raise InputError(f"{source}: Synthèse would write its {output.name} over this input. Choose another "
                             "output folder (-o DIR), or rename the input.")


def tag_file(transcript: Path, config: Config, *, output_dir: Path | None = None) -> Path:
    """`synthese tag TRANSCRIPT.json [-o DIR]`: tag one transcript file outside `synthese run`."""
    if transcript.suffix.lower() in (".vtt", ".srt", ".txt", ".docx"):
        raise InputError(f"{transcript.name}: `synthese tag` reads a .transcript.json file. Import this one first "
                         f"with `synthese transcribe {transcript}`, then tag the .transcript.json it writes.")
    if not transcript.is_file():
        raise InputError(f"{transcript}: file not found. Pass a <session>.transcript.json file.")
    stem = _stem_of(transcript, ".transcript.json")
    session = next((s for s in config.sessions if s.id == stem), None)
    paths = SessionPaths(output_dir or transcript.parent, stem)
    inputs_hash = tag_inputs_hash(transcript, paths.review, config, session)
    saved = tag_transcript(config, session, paths, inputs_hash, transcript_path=transcript)[0]
    for warning in Tags.load(saved).warnings:  # shown once, as `synthese run` does after each session
        log.warning("%s: %s", stem, warning)
    return saved


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
    from .render import SessionInputs, check_formats, render_session

    chosen = check_formats(formats if formats is not None else config.render.formats)
    tags = Tags.load(tags_path)
    stem = _stem_of(tags_path, ".tags.json")
    session = _session_for(tags, stem, config)
    out_dir = output_dir if output_dir is not None else tags_path.parent / "render"
    inputs_hash = render_inputs_hash(tags_path, session, config)
    manifest = render_session(SessionInputs(session, tags, transcript_beside(tags, config)), config, out_dir=out_dir,
                              stem=stem, formats=chosen)
    manifest.inputs_hash = inputs_hash
    saved = manifest.save(out_dir / f"{stem}.render.json")
    log.info("Rendered %s into %s", ", ".join(chosen), out_dir)
    return saved


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
