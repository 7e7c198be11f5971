"""Approval: a session's review state, draft → approved, and what was approved.

Staff approve a session once they have reviewed it (`synthese approve`, or « Approuver la
séance » on the review page); the review file then records who, when, and the fingerprint of
what they approved: the transcript as corrected, the decisions on themes and quotes, the voices'
names. The documents of a session are final only while that content is the one approved: any
later change (a new correction, a glossary entry that changes the text, a decision, a
re-transcription that changes the text) makes the
session "changed since approval", shown as a draft until it is approved again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .artefacts import Approval, ApprovalState, Tags, Transcript
from .heard import UNSURE_P
from .review_file import Review, revise_transcript
from .revision import in_inaudible_sentences

__all__ = ["FINGERPRINT_CHARS", "ReviewTodo", "approval_of", "content_fingerprint", "left_to_review", "now", "voice_pattern"]

FINGERPRINT_CHARS = 20


def content_fingerprint(revised: Transcript, review: Review) -> str:
    """The fingerprint of what a reviewer approves: the text of every turn as corrected, with its
    voice and language, the decisions on themes and quotes, the sentences confirmed as said, the
    voices' names, and what staff wrote (key messages, presentations, questions). Times are left
    out (a new transcription moves them a little without changing what is said)."""
    content = {
        "transcript": [[s.speaker or "", s.lang or "", " ".join(s.text.split())] for s in revised.segments],
        "decisions": sorted([d.kind, " ".join(d.passage.split()), d.theme, list(d.sentences)]
                            for d in review.decisions),
        "speakers": sorted(review.speakers.items()),
        "confirmed": sorted([" ".join(c.passage.split()), list(c.sentences)] for c in review.confirmations),
    }
    # What staff write for the documents (« À retenir », presentations, questions) is approved
    # too; counted only once written, so that an approval given before they existed holds.
    written = {
        "key_messages": [[m.text, [" ".join(p.split()) for p in m.passages]] for m in review.key_messages],
        "presentations": sorted(review.presentations.items()),
        "questions": [[" ".join(q.passage.split()), list(q.sentences), " ".join(q.answer.split())]
                      for q in review.questions],
    }
    content.update({key: value for key, value in written.items() if value})
    data = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:FINGERPRINT_CHARS]


def approval_of(review: Review, revised: Transcript) -> Approval:
    """The session's review state: "draft" (never approved), "approved" (the content is the one
    approved) or "changed" (approved, then changed)."""
    approved = review.approved
    if approved is None:
        return Approval()
    state: ApprovalState = "approved" if approved.fingerprint == content_fingerprint(revised, review) else "changed"
    return Approval(state=state, by=approved.by, at=approved.at.isoformat(timespec="minutes"),
                    fingerprint=approved.fingerprint)


def voice_pattern(label: str) -> re.Pattern[str]:
    """The labels diarization gives voices, from the wording's `speaker_label` ("Intervenant {n}"):
    a voice so called has not been named."""
    before, _, after = label.partition("{n}")
    return re.compile(re.escape(before) + r"\d+" + re.escape(after))


def now() -> dt.datetime:
    """The moment of an approval, local time with its offset (as the file records it)."""
    return dt.datetime.now().astimezone().replace(second=0, microsecond=0)


# --- what is left to review ------------------------------------------------------------------------

@dataclass(frozen=True)
class ReviewTodo:
    """One kind of thing left to review in a session, and how many."""

    kind: str  # unnamed_voices, gaps, uncertain_words, unconfirmed_quotes
    count: int


def _unnamed_voices(transcript: Transcript, revised: Transcript, review: Review, tags: Tags | None,
                    voice_label: re.Pattern[str]) -> int:
    labels = {s.speaker for s in transcript.segments if s.speaker and voice_label.fullmatch(s.speaker)}
    return len(labels - set(review.speakers))


def _gaps(transcript: Transcript, revised: Transcript, review: Review, tags: Tags | None,
          voice_label: re.Pattern[str]) -> int:
    return len(transcript.gaps)


def _uncertain(revised: Transcript) -> list[tuple[float, float]]:
    """The times of the words the recogniser was unsure of that no correction replaced (a
    corrected word has no probability), but for those of a sentence marked [inaudible] (never
    quoted: nothing to check)."""
    marked = in_inaudible_sentences([(s.speaker, [w.text for w in s.words]) for s in revised.segments])
    return [(w.start, w.end) for s, flags in zip(revised.segments, marked) for w, flag in zip(s.words, flags)
            if w.p is not None and w.p < UNSURE_P and not flag]


def _uncertain_words(transcript: Transcript, revised: Transcript, review: Review, tags: Tags | None,
                     voice_label: re.Pattern[str]) -> int:
    return len(_uncertain(revised))


def _unconfirmed_quotes(transcript: Transcript, revised: Transcript, review: Review, tags: Tags | None,
                        voice_label: re.Pattern[str]) -> int:
    """The quotes held back until a reviewer corrects or confirms their text (the last tagging's
    `held`: a word the recogniser was unsure of, or speech left untranscribed beside them)."""
    if tags is None:
        return 0
    return len({(q.passage, q.start) for q in tags.held})


# Each check counts one kind of thing left to review; add one here to show it in `synthese status`
# (its label is the wording's review_todo.<kind>).
CHECKS = {
    "unnamed_voices": _unnamed_voices,
    "gaps": _gaps,
    "uncertain_words": _uncertain_words,
    "unconfirmed_quotes": _unconfirmed_quotes,
}


def left_to_review(transcript: Transcript, review: Review, tags: Tags | None, voice_label: re.Pattern[str], *,
                   revised: Transcript | None = None, kinds: Sequence[str] = tuple(CHECKS)) -> list[ReviewTodo]:
    """What is left to review in a session, kind by kind (those with a count of 0 included);
    `revised` is the transcript as the review revises it, when the caller made it already."""
    revised = revised if revised is not None else revise_transcript(transcript, review)[0]
    return [ReviewTodo(kind, CHECKS[kind](transcript, revised, review, tags, voice_label)) for kind in kinds]
