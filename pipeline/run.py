"""`synthese run`: every stage for every session, skipping what is up to date.

A session that fails is reported and the others go on; the site is published with the sessions
that rendered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pipeline.artefacts import recorded_hash
from pipeline.config import Config, Session
from pipeline.errors import SyntheseError
from pipeline.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    done: dict[str, list[str]] = field(default_factory=dict)  # session id -> stages that ran
    failed: dict[str, str] = field(default_factory=dict)  # session id -> error message
    published: bool = False


def run_session(ws: Workspace, session: Session, *, force: bool = False, quiet: bool = False) -> list[str]:
    """Bring one session's artefacts up to date; return the stages that did work."""
    from pipeline import render, tag, transcribe

    config, paths, ran = ws.config, ws.paths(session), []
    ws.clear_partial_files(session)

    def needed(stage: str, artefact, inputs_hash: str) -> bool:
        if not force and recorded_hash(artefact) == inputs_hash:
            log.info("%s: %s up to date", session.id, stage)
            return False
        log.info("%s: %s…", session.id, stage)
        ran.append(stage)
        return True

    inputs_hash = ws.transcribe_hash(session)
    if needed("transcribe", paths.transcript, inputs_hash):
        transcribe.transcribe_session(
            ws.config.source_of(session),
            config,
            session,
            out_dir=paths.folder,
            stem=paths.stem,
            inputs_hash=inputs_hash,
            checkpoint=paths.checkpoint,
            quiet=quiet,
        )

    tag.ensure_review_file(paths.review)
    inputs_hash = ws.tag_hash(session)
    if needed("tag", paths.tags, inputs_hash):
        tag.tag_file(paths.transcript, config, out_dir=paths.folder, stem=paths.stem,
                     inputs_hash=inputs_hash, review_path=paths.review, session=session)

    inputs_hash = ws.render_hash(session)
    if needed("render", paths.render, inputs_hash):
        render.render_session(paths.tags, session, config, out_dir=paths.render_dir, stem=paths.stem,
                              inputs_hash=inputs_hash, formats=config.render.formats)
    return ran


def run_all(config: Config, session_ids: list[str] | None = None, *, force: bool = False,
            quiet: bool = False) -> RunReport:
    """Run the pipeline on the chosen sessions (all by default), then publish the site."""
    from pipeline import publish

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
        rendered = [s for s in config.sessions if ws.stage_state(s, "render") == "done"]
        if force or ws.publish_state() != "done":
            log.info("publish: %d session(s) into %s…", len(rendered), ws.outputs_dir)
            publish.publish_site(ws, rendered)
            report.published = True
        else:
            log.info("publish up to date")
    return report
