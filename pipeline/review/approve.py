"""`synthese approve`: record that a session was reviewed and may be published as final.

The approval goes to the session's review file (`approved: {by, at, fingerprint}`, written line
by line as the review page writes it, see edits.py), with the fingerprint of what was approved
(core/approval.py). The render stage reads it: the documents lose the draft mark and show the
approval date as their publication date, until the content changes again.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Sequence

from ..core.approval import content_fingerprint, now
from ..core.artefacts import Transcript
from ..core.config import Session
from ..core.errors import SyntheseError
from ..core.glossary import GlossaryEntry
from ..core.review_file import Approved, parse_review, revise_transcript
from ..core.storage import write_text
from ..stages import cycle_glossary, ensure_review
from ..workspace import Workspace
from .edits import set_approval

__all__ = ["approve_session", "default_approver"]

log = logging.getLogger(__name__)


def default_approver() -> str:
    """The name of the person using this computer: their full name where the system has it."""
    try:
        import pwd

        full = pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0].strip()
    except (ImportError, KeyError, OSError):
        full = ""
    if full:
        return full
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def approval_text(text: str, name: str, transcript: Transcript, by: str, *,
                  glossary: Sequence[GlossaryEntry] = ()) -> str:
    """The review file's text with the approval of its content as it is now, by `by`: the
    transcript as the review file and the cycle's `glossary` revise it (as the tag stage does)."""
    review = parse_review(text, name)
    review.glossary = list(glossary)
    fingerprint = content_fingerprint(revise_transcript(transcript, review)[0], review)
    return set_approval(text, name, by=by, at=now(), fingerprint=fingerprint)


def approve_session(ws: Workspace, session: Session, by: str) -> Approved:
    """Approve the session's content as it is now (transcript as corrected, decisions, voices'
    names); return the approval the review file records."""
    by = " ".join(by.split())
    if not by:
        raise SyntheseError("say who approves: synthese approve SESSION --by \"Prénom Nom\".")
    paths = ws.paths(session)
    with ws.lock():
        if not paths.transcript.is_file():
            raise SyntheseError(f"session {session.id} is not transcribed yet: run `synthese run {session.id}`, "
                                f"review it (`synthese review {session.id}`), then approve it.")
        transcript = Transcript.load(paths.transcript)
        ensure_review(ws.config, paths.review)
        try:
            text = paths.review.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SyntheseError(f"{paths.review.name}: cannot read the review file ({exc}). Save it as UTF-8 text.") \
                from None
        new = approval_text(text, paths.review.name, transcript, by, glossary=cycle_glossary(ws.config))
        write_text(paths.review, new)
    approved = parse_review(new, paths.review.name).approved
    assert approved is not None
    log.info("%s: approved by %s (%s), in %s", session.id, approved.by, approved.at.isoformat(timespec="minutes"),
             paths.review.name)
    return approved
