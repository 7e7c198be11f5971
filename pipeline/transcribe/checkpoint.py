"""The transcription checkpoint: what a long transcription has done so far, to resume after a crash.

Written beside the transcript every few blocks (atomically); it names the replay (sha256) and
the options (a hash), so that a checkpoint made from another file or with other settings is
ignored rather than mixed in.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..core.errors import SyntheseError
from ..core.storage import read_json, write_json
from .segments import Segment

log = logging.getLogger(__name__)

CHECKPOINT_SCHEMA = "synthese.transcribe-checkpoint/2"


def read_checkpoint(checkpoint: Path, source_sha256: str, options_key: str) -> dict[str, Any] | None:
    """The saved state, or None when there is none, it is unreadable, or it belongs to another
    file or other options."""
    if not checkpoint.is_file():
        return None
    try:
        data = read_json(checkpoint)
    except SyntheseError:
        data = None
    schema = data.get("schema") if isinstance(data, dict) else None
    if isinstance(schema, str) and schema.startswith("synthese.transcribe-checkpoint/") and schema != CHECKPOINT_SCHEMA:
        log.info("%s: checkpoint of an earlier version of Synthèse; transcribing from the start", checkpoint.name)
        return None
    if schema != CHECKPOINT_SCHEMA:
        log.warning("%s: unreadable checkpoint ignored; transcribing from the start", checkpoint.name)
        return None
    if data.get("source_sha256") != source_sha256 or data.get("options_key") != options_key:
        log.info("%s: checkpoint made from another file or other options; starting over", checkpoint.name)
        return None
    return data


def write_checkpoint(checkpoint: Path, source_sha256: str, options_key: str, done_s: float,
                     state: dict[str, Any]) -> None:
    """Save the state after `done_s` seconds of the replay (`state`: segments, gaps, counts…)."""
    write_json(checkpoint, {"schema": CHECKPOINT_SCHEMA, "source_sha256": source_sha256,
                            "options_key": options_key, "done_s": round(done_s, 3), **state})


def segments_from(items: list[dict[str, Any]]) -> list[Segment]:
    """Segments as saved by `Segment.as_dict` (checkpoint or transcript)."""
    return [Segment.from_dict(s) for s in items]
