"""Approval: a session is a draft until someone approves it; the review file records who, when
and the fingerprint of what was approved; any later change to that content makes the session
"modifiée depuis l'approbation" until it is approved again."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from synthese.core.approval import approval_of, content_fingerprint, left_to_review, voice_pattern
from synthese.core.artefacts import Transcript
from synthese.core.errors import ReviewError
from synthese.core.resources import TemplateSet
from synthese.core.review_file import parse_review, revise_transcript
from synthese.review.edits import ReviewEditError, add_correction, set_approval, set_decision, set_speaker

DATA = Path(__file__).resolve().parent / "data"
TEMPLATE = TemplateSet().read_text("review.fr.yaml")
NAME = "s.review.yaml"
AT = dt.datetime(2026, 12, 7, 10, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))


@pytest.fixture(scope="module")
def transcript() -> Transcript:
    return Transcript.load(DATA / "review_sample.transcript.json")


def approve(text: str, transcript: Transcript, by: str = "Marie Dupont") -> str:
    review = parse_review(text, NAME)
    fingerprint = content_fingerprint(revise_transcript(transcript, review)[0], review)
    return set_approval(text, NAME, by=by, at=AT, fingerprint=fingerprint)


def state(text: str, transcript: Transcript) -> str:
    review = parse_review(text, NAME)
    return approval_of(review, revise_transcript(transcript, review)[0]).state


def test_a_session_is_a_draft_until_approved_then_approved_with_who_and_when(transcript):
    assert state(TEMPLATE, transcript) == "draft"
    text = approve(TEMPLATE, transcript)
    # One line added at the end; every other byte as it was.
    assert text.startswith(TEMPLATE)
    assert text[len(TEMPLATE):].startswith('approved: {by: "Marie Dupont", at: "2026-12-07T10:15+01:00", fingerprint: "')
    review = parse_review(text, NAME)
    approval = approval_of(review, revise_transcript(transcript, review)[0])
    assert (approval.state, approval.by, approval.at) == ("approved", "Marie Dupont", "2026-12-07T10:15+01:00")
    assert approval.final and approval.date == dt.date(2026, 12, 7)


@pytest.mark.parametrize("change", ["correction", "decision", "voice"])
def test_any_change_to_the_content_after_approval_makes_it_changed_until_approved_again(transcript, change):
    text = approve(TEMPLATE, transcript)
    segment = transcript.segments[3]
    if change == "correction":
        text = add_correction(text, NAME, segment.start, segment.text.split()[1], "autrement")
    elif change == "decision":
        key = "00:00:10 Bonjour"
        text = set_decision(text, NAME, family=("accept", "reject", "add"), kind="add", passage_key=key,
                            theme="sobriete", same_passage=lambda k: k == key)
    else:
        text = set_speaker(text, NAME, "Intervenant 1", "François Ménard")
    assert state(text, transcript) == "changed"
    # Approved again: the new approval replaces the old line, in its place.
    again = approve(text, transcript, by="Paul Martin")
    assert state(again, transcript) == "approved"
    assert again.count("\napproved:") == 1 and parse_review(again, NAME).approved.by == "Paul Martin"


def test_a_new_transcription_that_changes_the_text_changes_the_state_but_new_times_alone_do_not(transcript):
    text = approve(TEMPLATE, transcript)
    shifted = transcript.model_copy(deep=True)
    for segment in shifted.segments:
        segment.start, segment.end = segment.start + 0.4, segment.end + 0.4
    assert state(text, shifted) == "approved"
    reworded = transcript.model_copy(deep=True)
    reworded.segments[0].text += " voilà"
    assert state(text, reworded) == "changed"


def test_an_approval_written_wrong_by_hand_names_its_line():
    with pytest.raises(ReviewError, match=r"s.review.yaml, line 3: 'by', 'at' and 'fingerprint' are required"):
        parse_review("speakers: {}\n\napproved: {by: Marie}\n", NAME)
    with pytest.raises(ReviewError, match=r"line 1: 'at' 'hier' is not a date and time"):
        parse_review('approved: {by: Marie, at: hier, fingerprint: "abc"}\n', NAME)


def test_an_approval_needs_a_name():
    with pytest.raises(ReviewEditError):
        set_approval(TEMPLATE, NAME, by="  ", at=AT, fingerprint="abc")


def test_what_is_left_to_review_counts_unnamed_voices_gaps_and_uncertain_words(transcript):
    review = parse_review(TEMPLATE, NAME)
    voices = voice_pattern("Intervenant {n}")
    todo = {t.kind: t.count for t in left_to_review(transcript, review, None, voices)}
    uncertain = sum(1 for s in transcript.segments for w in s.words if w.p is not None and w.p < 0.5)
    assert todo == {"unnamed_voices": 2, "gaps": len(transcript.gaps), "uncertain_words": uncertain,
                    "unconfirmed_quotes": 0}
    named = parse_review(set_speaker(TEMPLATE, NAME, "Intervenant 2", "Claire Dubreuil"), NAME)
    assert {t.kind: t.count for t in left_to_review(transcript, named, None, voices)}["unnamed_voices"] == 1


def test_cli_approve_and_status_follow_the_review(tmp_path, cli):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_review_page import review_workspace

    ws = review_workspace(tmp_path / "ws")
    config = str(ws.config.path)
    status = cli("--config", config, "status")
    assert status.returncode == 0, status.stderr
    assert "seance-introductive  non relue (document de travail)" in status.stdout
    assert "reste à relire : 2 voix non nommées" in status.stdout.replace("\u00a0", " ")

    approved = cli("--config", config, "approve", "seance-introductive", "--by", "Marie Dupont")
    assert approved.returncode == 0, approved.stderr
    today = dt.date.today()
    status = cli("--config", config, "status").stdout.replace("\u00a0", " ")
    assert "seance-introductive  approuvée par Marie Dupont le " in status

    review = ws.paths(ws.config.session("seance-introductive")).review
    segment = Transcript.load(ws.paths(ws.config.session("seance-introductive")).transcript).segments[2]
    review.write_text(add_correction(review.read_text(encoding="utf-8"), review.name, segment.start,
                                     segment.text.split()[0], "Alors"), encoding="utf-8")
    status = cli("--config", config, "status").stdout.replace("\u00a0", " ")
    assert "seance-introductive  modifiée depuis l’approbation (approuvée par Marie Dupont le" in status
    assert str(today.year) in status

    missing = cli("--config", config, "approve", "seance-introductive", "--by", "")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: say who approves")
