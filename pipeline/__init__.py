"""Synthèse: turn webinar replays into published syntheses organised by theme.

The four stages are functions of their inputs, usable as a library:

    transcribe(source, config, session) -> Transcript      stage 1 (synthese.transcription)
    tag(transcript, config) -> Tags                         stage 2 (synthese.tagging)
    render_session(SessionInputs(...), config, ...) -> RenderManifest   stage 3 (synthese.render)
    publish(config, sessions, cycle, output_dir=...) -> SiteManifest   stage 4 (synthese.publish)

`run_all(config)` is what `synthese run` does: every stage for every session, skipping what is
up to date. Names are imported on first use, so that `synthese --help` answers at once.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_API = {
    "load_config": "synthese.config",
    "Config": "synthese.config",
    "transcribe": "synthese.transcription",
    "tag": "synthese.tagging",
    "render_session": "synthese.rendering",
    "render_cycle": "synthese.rendering",
    "SessionInputs": "synthese.compose",
    "publish": "synthese.publishing",
    "PublishedSession": "synthese.publishing",
    "run_all": "synthese.run",
    "Transcript": "synthese.artefacts",
    "Tags": "synthese.artefacts",
    "RenderManifest": "synthese.artefacts",
    "SiteManifest": "synthese.artefacts",
    "SyntheseError": "synthese.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'synthese' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
