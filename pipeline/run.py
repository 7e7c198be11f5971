"""`synthese run`: every session of config.yaml brought up to date, then the cycle's synthesis and
the site.

A session that fails, for any reason, is reported with its id and the others still complete and
are published. The stages, and when each runs, are the stage table's (stages.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from .core.config import Config
from .core.errors import SyntheseError, unforeseen
from .stages import CycleRun, SessionRun
from .voices import learn_all
from .workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    done: dict[str, list[str]] = field(default_factory=dict)  # session id -> stages that ran
    failed: dict[str, str] = field(default_factory=dict)  # session id -> error message
    published: bool = False


def run_all(config: Config, session_ids: Sequence[str] | None = None, *, force: bool = False,
            quiet: bool = False) -> RunReport:
    """Run the pipeline on the chosen sessions (all by default), then publish the site."""
    ws = Workspace(config)
    sessions = [config.session(i) for i in session_ids] if session_ids else list(config.sessions)
    report = RunReport()
    with ws.lock():
        # The voices named in every session first: a name given in a later session reaches the
        # earlier ones in this same run.
        learn_all(ws)
        for session in sessions:
            try:
                report.done[session.id] = SessionRun(ws, session, quiet=quiet).bring_up_to_date(force=force)
            except SyntheseError as exc:
                log.error("Error: session %s: %s", session.id, exc)
                report.failed[session.id] = str(exc)
            except Exception as exc:  # noqa: BLE001 - one session's failure must not stop the others
                log.debug("session %s failed", session.id, exc_info=True)
                message = unforeseen(exc)
                log.error("Error: session %s: %s", session.id, message)
                report.failed[session.id] = message
        report.published = CycleRun(ws).bring_up_to_date(force=force) is not None
    return report
