"""Synthèse: turn webinar replays into published syntheses organised by theme.

The package shows the pipeline, one sub-package per stage over what they share:

    core/         errors, limits, storage, config, the artefacts (the contracts between stages),
                  the review file, typography, caption writers
    transcribe/   stage 1: replay or transcript file -> Transcript
    tag/          stage 2: Transcript (+ review file) -> Tags
    render/       stage 3: Tags -> PDF, DOCX, HTML, subtitles and a RenderManifest
    publish/      stage 4: the rendered documents -> the readers' site (SiteManifest)
    workspace.py, stages.py, run.py, files.py, voices.py, scaffold.py
                  the orchestration: where artefacts live, the stage table (which stage is
                  stale, what runs it), `synthese run`, each stage alone on files, voice
                  profiles across sessions, `synthese init`
    cli.py, serve.py, review/   the front ends: the command line, the site's preview server,
                  the review page

Stages import only `core`, never each other; the orchestration imports the stages; the front
ends import the orchestration. Each stage is a function of its inputs, usable as a library:

    from synthese.transcribe import transcribe    transcribe(source, config, session) -> Transcript
    from synthese.tag import tag                  tag(transcript, config) -> Tags
    from synthese.render import render_session    render_session(SessionInputs(...), config, ...) -> RenderManifest
    from synthese.publish import publish          publish(config, sessions, cycle, output_dir=...) -> SiteManifest

`run_all(config)` is what `synthese run` does: every stage for every session, skipping what is
up to date. The names below are imported on first use, so that `synthese --help` answers at once.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_API = {
    "load_config": ".core.config",
    "Config": ".core.config",
    "SessionInputs": ".render.compose",
    "PublishedSession": ".publish.publishing",
    "run_all": ".run",
    "Transcript": ".core.artefacts",
    "Tags": ".core.artefacts",
    "RenderManifest": ".core.artefacts",
    "SiteManifest": ".core.artefacts",
    "SyntheseError": ".core.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
